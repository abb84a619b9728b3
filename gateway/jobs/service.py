"""Submitting jobs: route, price, and insert the job with its credit hold in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Row, insert

import billing
from local_models import parse_size
from router import Offer, RouteRequest, plan

from ..api.images import ValidatedImage
from ..api.schemas import VideoCreate, format_seconds
from ..artifacts import ArtifactStore
from ..auth import Principal
from ..db import Database, jobs
from ..errors import BadRequest
from ..ids import new_video_id
from .states import QUEUED

__all__ = ["JobService"]


class JobService:
    """Turns a validated request into a durable, paid-for (held) job row."""

    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        offers: Callable[[], Sequence[Offer]],
        *,
        max_prompt_chars: int,
        on_submitted: Callable[[str], None] = lambda model: None,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.artifacts = artifacts
        self.offers = offers
        self.max_prompt_chars = max_prompt_chars
        self.on_submitted = on_submitted
        self.wake = wake

    def submit(self, principal: Principal, req: VideoCreate, image: ValidatedImage | None) -> Row[Any]:
        prompt = (req.prompt or "").strip()
        if not prompt:
            raise BadRequest(
                "prompt is required and must not be empty", code="missing_prompt", param="prompt"
            )
        if len(prompt) > self.max_prompt_chars:
            raise BadRequest(
                f"prompt is {len(prompt)} characters; the limit is {self.max_prompt_chars}",
                code="prompt_too_long",
                param="prompt",
            )
        route = RouteRequest(
            model=req.model,
            mode="i2v" if image is not None else "t2v",
            size=parse_size(req.size) if req.size else None,
            seconds=req.seconds,
            frames=req.frames,
            fps=req.fps,
            steps=req.steps,
            guidance=req.guidance,
            seed=req.seed,
            negative_prompt=req.negative_prompt,
        )
        chosen = plan(route, self.offers())[0]
        params = chosen.params
        seconds = req.seconds if req.seconds is not None else chosen.spec.default_seconds
        job_id = new_video_id()
        input_path = self.artifacts.save_input(job_id, image.png, ".png") if image is not None else None
        try:
            with self.db.write() as conn:
                row = conn.execute(
                    insert(jobs)
                    .returning(*jobs.c)
                    .values(
                        id=job_id,
                        account_id=principal.account_id,
                        key_id=principal.key_id,
                        status=QUEUED,
                        requested_model=req.model,
                        model=chosen.spec.id,
                        backend=chosen.backend,
                        prompt=prompt,
                        seconds=format_seconds(seconds),
                        size=params.size,
                        params=params.as_dict(),
                        input_path=str(input_path) if input_path else None,
                        input_sha256=image.sha256 if image is not None else None,
                        progress=0,
                        quoted_mc=chosen.price_mc,
                        created_at=time.time(),
                        attempts=0,
                        cancel_requested=False,
                    )
                ).one()
                billing.hold(conn, principal.account_id, job_id, chosen.price_mc)
        except BaseException:
            if input_path is not None:
                input_path.unlink(missing_ok=True)
            raise
        self.on_submitted(chosen.spec.id)
        self.wake()
        return row
