"""What every request body must be before any route looks at it, for the API and the dashboard alike.

One place decides what enters: JSON that parses into bounded structures (depth, finite numbers, 64-bit
integers), and text with neither NUL characters (PostgreSQL refuses them) nor lone surrogates (they
cannot be encoded). Field-level rules (ranges, lengths, sizes) live in the pydantic body models.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from anyio import to_thread
from starlette.requests import Request

from gateway.errors import BadRequest, UnsupportedMediaType

__all__ = [
    "MAX_JSON_DEPTH",
    "check_text",
    "clean_form_value",
    "loads_json",
    "loads_json_off_loop",
    "read_json",
    "read_json_object",
    "require_json",
]

MAX_JSON_DEPTH = 32
# A body's JSON values (numbers, strings, members...), at most. The largest legitimate body (a shot
# list, a compare across models) has a few hundred; millions of zeros in 24 MB would cost seconds of
# parsing and gigabytes of Python objects, so such a body is refused before it is parsed.
MAX_JSON_VALUES = 100_000
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        keys = [k for k, _ in pairs]
        twice = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"the key {twice!r} appears twice in one object")
    return data


def check_text(value: str, param: str | None) -> str:
    """``value`` if it can be stored and shown; a 400 ``invalid_parameter`` naming ``param`` otherwise."""
    if "\x00" in value:
        raise BadRequest(
            f"{param or 'the body'} must not contain NUL characters", code="invalid_parameter", param=param
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(
            f"{param or 'the body'} must be valid Unicode text (it has a lone surrogate)",
            code="invalid_parameter",
            param=param,
        ) from None
    return value


Trail = tuple[Any, object] | None  # (parent trail, key): a path built only when an error names it


def _path(trail: Trail) -> str:
    keys: list[str] = []
    while trail is not None:
        trail, key = trail
        keys.append(str(key))
    return ".".join(reversed(keys))


def _check_tree(data: Any) -> None:
    """Walk the decoded JSON once, without recursion: depth, text, integer range, finite floats. Paths
    are spelled out only for an error: a body of millions of values costs one pass, no strings."""
    stack: list[tuple[Any, Trail, int]] = [(data, None, 1)]
    seen = 0
    while stack:
        value, trail, depth = stack.pop()
        if not isinstance(value, dict | list):
            _check_scalar(value, trail)
            continue
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(
                f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep", code="invalid_json"
            )
        seen += len(value)
        if seen > MAX_JSON_VALUES:
            raise _too_many_values()
        items: Iterable[tuple[object, Any]] = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            if isinstance(key, str) and not _clean(key):
                check_text(key, _path((trail, key)))
            if isinstance(child, dict | list):
                stack.append((child, (trail, key), depth + 1))
            else:  # checked in place: no record per scalar
                _check_scalar(child, (trail, key))


def _check_scalar(value: Any, trail: Trail) -> None:
    if isinstance(value, str):
        if not _clean(value):
            check_text(value, _path(trail) or None)
    elif isinstance(value, bool) or value is None:
        return
    elif (isinstance(value, int) and not _INT_MIN <= value <= _INT_MAX) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        path = _path(trail)
        raise BadRequest(
            f"{path or 'the body'}: number out of range", code="invalid_parameter", param=path or None
        )


def _too_many_values() -> BadRequest:
    return BadRequest(f"the JSON body has more than {MAX_JSON_VALUES} values", code="invalid_json")


def _clean(text: str) -> bool:
    """The fast path of :func:`check_text`: no NUL, no lone surrogate."""
    return "\x00" not in text and (text.isascii() or _encodes(text))


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def loads_json(raw: bytes, *, param: str | None = None) -> Any:
    """Decode a JSON body (or, with ``param``, that field's JSON text) under the edge rules; 400
    ``invalid_json`` / ``invalid_parameter`` otherwise."""
    what = "the body" if param is None else param
    # Separators bound the values (within strings they only overcount): refuse before parsing.
    if raw.count(b",") + raw.count(b":") > 2 * MAX_JSON_VALUES:
        raise _too_many_values()
    try:
        # UTF-8 only (json.loads would also guess UTF-16/32); a BOM is then a JSON error, as it should be.
        text = raw.decode("utf-8")
        data = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise BadRequest(
            f"{what} is JSON nested more than {MAX_JSON_DEPTH} levels deep", code="invalid_json", param=param
        ) from None
    except ValueError as exc:  # includes JSONDecodeError, UnicodeDecodeError, over-long integers
        raise BadRequest(f"{what} is not valid JSON: {exc}", code="invalid_json", param=param) from None
    _check_tree(data)
    return data


# Bodies bigger than this are decoded on a worker thread: a 25 MiB body is seconds of CPU that must not
# hold the event loop (every other request waits on it).
INLINE_JSON_BYTES = 64 * 1024


async def loads_json_off_loop(raw: bytes) -> Any:
    """:func:`loads_json`, on a worker thread when the body is big."""
    if len(raw) <= INLINE_JSON_BYTES:
        return loads_json(raw)
    return await to_thread.run_sync(loads_json, raw)


async def read_json(request: Request) -> Any:
    """The request's JSON body, checked at the edge."""
    return await loads_json_off_loop(await request.body())


async def read_json_object(request: Request, *, empty_ok: bool = False) -> dict[str, Any]:
    """The request's JSON body, which must be an object (``{}`` for an empty body if ``empty_ok``) sent
    as ``application/json``."""
    raw = await request.body()
    if not raw.strip():
        if empty_ok:
            return {}
        raise BadRequest("send the body as a JSON object", code="invalid_json")
    require_json(request)
    data = await loads_json_off_loop(raw)
    if not isinstance(data, dict):
        raise BadRequest("the JSON body must be an object", code="invalid_json")
    return data


def require_json(request: Request) -> None:
    """415 unless the body is declared ``application/json`` (or a ``+json`` type)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(f"unsupported content type {media or '(none)'!r}: send application/json")


def clean_form_value(key: str, value: str) -> str:
    """A form field's text under the same rules as JSON text."""
    check_text(key, key)
    return check_text(value, key)
