"""Characters: a named reference frame taken from a video, which later creates use as their
reference image (``characters: [id]``)."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Row, insert, select

from gateway.engine.artifacts import ArtifactStore
from gateway.engine.db import Database, characters
from gateway.engine.errors import NotFound

__all__ = ["character_image", "create_character", "get_character", "is_character_id"]

_ID = re.compile(r"^char_[0-9a-f]{24}$")


def is_character_id(value: str) -> bool:
    return bool(_ID.match(value))


def _not_found(character_id: str, param: str = "character_id") -> NotFound:
    return NotFound(f"no character with id {character_id!r}", code="character_not_found", param=param)


def create_character(
    db: Database, artifacts: ArtifactStore, account_id: str, name: str, png: bytes
) -> Row[Any]:
    character_id = f"char_{int(time.time() * 1000):012x}{secrets.token_hex(6)}"
    path = artifacts.save_input(character_id, png, ".png")
    with db.write() as conn:
        return conn.execute(
            insert(characters)
            .values(
                id=character_id,
                account_id=account_id,
                name=name,
                image_path=str(path),
                image_sha256=hashlib.sha256(png).hexdigest(),
                created_at=time.time(),
            )
            .returning(*characters.c)
        ).one()


def get_character(db: Database, account_id: str, character_id: str, param: str = "character_id") -> Row[Any]:
    if not is_character_id(character_id):
        raise _not_found(character_id, param)
    with db.read() as conn:
        row = conn.execute(
            select(characters).where(characters.c.id == character_id, characters.c.account_id == account_id)
        ).one_or_none()
    if row is None:
        raise _not_found(character_id, param)
    return row


def character_image(db: Database, artifacts: ArtifactStore, account_id: str, character_id: str) -> bytes:
    """The character's reference frame (PNG)."""
    row = get_character(db, account_id, character_id, param="characters")
    return Path(artifacts.input_file(row.image_path)).read_bytes()
