"""Submitting jobs: route, price, and insert the job with its credit reserve in one transaction."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

import billing
from local_models import parse_size
from router import Offer, Plan, RouteRequest, plan

from .. import idempotency
from ..api.images import ValidatedImage
from ..api.schemas import RoutingBody, VideoCreate, format_seconds, parse_model, video_object
from ..artifacts import ArtifactStore
from ..auth import Principal
from ..creative import normalize_prompt
from ..db import Database, api_keys, jobs, projects
from ..errors import BadRequest, Conflict, NotFound
from ..fleet import Fleet
from ..ids import new_video_id
from .states import QUEUED, TERMINAL
from .store import JobStore

__all__ = ["JobService", "Submitted"]


def _not_found(video_id: str) -> NotFound:
    return NotFound(f"no video with id {video_id!r}", code="video_not_found", param="video_id")


@dataclass(frozen=True)
class Submitted:
    """The response to a create: a new job, or the replay of an earlier one (same Idempotency-Key)."""

    body: dict[str, Any]
    replayed: bool


class JobService:
    """Turns a validated request into a durable, paid-for (reserved) job row."""

    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        offers: Callable[[], Sequence[Offer]],
        *,
        max_prompt_chars: int,
        regeneration: tuple[str, int] = ("warn", 3),
        fleet: Fleet,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        routing_defaults: Mapping[str, Any] | None = None,
        key_routing: Mapping[str, Mapping[str, Any]] | None = None,
        on_submitted: Callable[[str, int], None] = lambda model, reserved_mc: None,
        wake: Callable[[], None] = lambda: None,
        store: JobStore | None = None,
        cancel_local: Callable[[str], None] = lambda job_id: None,
    ) -> None:
        self.db = db
        self.artifacts = artifacts
        self.offers = offers
        self.max_prompt_chars = max_prompt_chars
        self.regeneration_mode, self.regeneration_limit = regeneration
        self.on_submitted = on_submitted
        self.wake = wake
        self.store = store or JobStore(db)
        self.cancel_local = cancel_local
        self.fleet = fleet
        self.fallbacks = dict(fallbacks or {})
        self._default_routing = parse_model(RoutingBody, dict(routing_defaults or {}))
        self._key_routing = {k: parse_model(RoutingBody, dict(v)) for k, v in (key_routing or {}).items()}

    def cancel(self, account_id: str, video_id: str) -> Any:
        """Cancel ``account_id``'s queued or running job; the row after the change.

        Ownership is checked here, once, for the API and the dashboard: another account's job is
        ``video_not_found`` and is left alone (the running worker is only told after the check).
        """
        row = self.store.get(account_id, video_id)
        if row is None:
            raise _not_found(video_id)
        if row.status in TERMINAL:
            raise Conflict(
                f"video {video_id} is already {row.status}", code="video_not_cancellable", param="video_id"
            )
        row = self.store.request_cancel(account_id, video_id)
        if row is None:
            raise _not_found(video_id)
        self.cancel_local(video_id)
        return row

    def delete(self, account_id: str, video_id: str) -> None:
        """Delete ``account_id``'s job and its files; a running one is cancelled first (and refunded)."""
        row = self.store.request_cancel(account_id, video_id, delete=True)
        if row is None:
            raise _not_found(video_id)
        if row.status in TERMINAL:
            self.artifacts.delete(video_id)
        else:
            self.cancel_local(video_id)

    def routing_defaults(self, key_id: str | None) -> RoutingBody:
        """The routing a request gets when it sends none: per key from config, else the default."""
        return self._key_routing.get(key_id or "", self._default_routing)

    def route(self, req: VideoCreate, image: ValidatedImage | None, key_id: str | None = None) -> Plan:
        """Validate the prompt and rank the candidates (no side effects; also quotes and explain)."""
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
        request = RouteRequest(
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
            audio=req.audio,
        )
        routing = req.routing or self.routing_defaults(key_id)
        return plan(
            request,
            self.offers(),
            routing.preferences(),
            view=self.fleet.view(),
            health=self.fleet.health_snapshot(),
            fallbacks=self.fallbacks,
        )

    def submit(
        self,
        principal: Principal,
        req: VideoCreate,
        image: ValidatedImage | None,
        idem: idempotency.IdempotentRequest | None = None,
        on_created: Callable[[Connection, list[dict[str, Any]]], object] | None = None,
    ) -> Submitted:
        """Create the job (or, with ``routing.compare``, one per model) and reserve its credits, in one
        transaction. ``on_created(conn, videos)`` runs inside it (shots use it to record takes)."""
        if idem is not None:
            with self.db.read() as conn:
                replay = idempotency.find(conn, idem)
            if replay is not None:
                return Submitted(replay.body, True)
        routing = req.routing
        if routing is not None and routing.compare:
            if len(set(routing.compare)) != len(routing.compare):
                raise BadRequest(
                    "routing.compare lists a model twice", code="invalid_routing", param="routing.compare"
                )
            # A/B: one job per model, each its own plan (no fallbacks: a take must be that model).
            single = routing.model_copy(update={"compare": [], "allow_fallbacks": False})
            plans = [
                self.route(req.model_copy(update={"model": m, "routing": single}), image, principal.key_id)
                for m in routing.compare
            ]
        else:
            plans = [self.route(req, image, principal.key_id)]
        job_ids = [new_video_id() for _ in plans]
        inputs = [
            self.artifacts.save_input(j, image.png, ".png") if image is not None else None for j in job_ids
        ]
        try:
            with self.db.write() as conn:
                billing.lock_account(conn, principal.account_id)
                if idem is not None and (replay := idempotency.find(conn, idem)) is not None:
                    self._discard(inputs)
                    return Submitted(replay.body, True)
                videos = [
                    self._insert(conn, principal, req, image, routed, job_id, path)
                    for routed, job_id, path in zip(plans, job_ids, inputs, strict=True)
                ]
                if on_created is not None:
                    on_created(conn, videos)
                body = videos[0] if len(videos) == 1 else {"object": "list", "data": videos}
                if idem is not None:
                    idempotency.remember(conn, idem, 200, body)
        except IntegrityError:
            # Another request with the same Idempotency-Key committed first (PostgreSQL): replay it.
            self._discard(inputs)
            if idem is not None:
                with self.db.read() as conn:
                    replay = idempotency.find(conn, idem)
                if replay is not None:
                    return Submitted(replay.body, True)
            raise
        except BaseException:
            self._discard(inputs)
            raise
        for routed in plans:
            self.on_submitted(routed.first.spec.id, routed.first.price_mc)
        self.wake()
        return Submitted(body, False)

    @staticmethod
    def _discard(paths: list[Any]) -> None:
        for path in paths:
            if path is not None:
                path.unlink(missing_ok=True)

    def _insert(
        self,
        conn: Connection,
        principal: Principal,
        req: VideoCreate,
        image: ValidatedImage | None,
        routed: Plan,
        job_id: str,
        input_path: Any,
    ) -> dict[str, Any]:
        """Insert one job row and hold its credits; the caller holds the account's lock."""
        chosen = routed.first
        params = chosen.params
        prompt_key = hashlib.sha256(normalize_prompt(req.prompt or "").encode()).hexdigest()
        warnings = self._regeneration_check(conn, principal.account_id, chosen.spec.id, prompt_key)
        seconds = req.seconds if req.seconds is not None else chosen.spec.default_seconds
        project_budget = None
        if req.project is not None:
            project = conn.execute(
                select(projects.c.id, projects.c.budget_mc).where(
                    projects.c.id == req.project,
                    projects.c.account_id == principal.account_id,
                    projects.c.deleted_at.is_(None),
                )
            ).one_or_none()
            if project is None:
                raise NotFound(
                    f"no project with id {req.project!r}", code="project_not_found", param="project"
                )
            project_budget = project.budget_mc
        key = conn.execute(
            select(api_keys.c.daily_budget_mc, api_keys.c.monthly_budget_mc).where(
                api_keys.c.id == principal.key_id
            )
        ).one_or_none()
        limits = billing.BudgetLimits(
            key_daily_mc=key.daily_budget_mc if key else None,
            key_monthly_mc=key.monthly_budget_mc if key else None,
            project_mc=project_budget,
        )
        row = conn.execute(
            insert(jobs)
            .returning(*jobs.c)
            .values(
                id=job_id,
                account_id=principal.account_id,
                key_id=principal.key_id,
                project_id=req.project,
                status=QUEUED,
                requested_model=req.model,
                model=chosen.spec.id,
                backend=chosen.backend,
                prompt=(req.prompt or "").strip(),
                prompt_key=prompt_key,
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
                eta_seconds=round(routed.ranked[0].estimate.total, 3),
                candidates=[
                    {
                        "model": c.spec.id,
                        "backend": c.backend,
                        "params": c.params.as_dict(),
                        "price_mc": c.price_mc,
                    }
                    for c in routed.candidates()
                ],
            )
        ).one()
        billing.reserve(
            conn,
            principal.account_id,
            job_id,
            chosen.price_mc,
            api_key_id=principal.key_id,
            project_id=req.project,
            model=chosen.spec.id,
            limits=limits,
            locked=True,  # create() locks the account first
        )
        video = video_object(row)
        if warnings:
            video["warnings"] = warnings
        return video

    def _regeneration_check(
        self, conn: Connection, account_id: str, model: str, prompt_key: str
    ) -> list[dict[str, str]]:
        """An unchanged prompt regenerated on the same model more than the limit: the prompt, not the
        seed, is the problem. Warn (default) or refuse."""
        if self.regeneration_mode == "off":
            return []
        earlier = conn.execute(
            select(func.count())
            .select_from(jobs)
            .where(jobs.c.account_id == account_id, jobs.c.model == model, jobs.c.prompt_key == prompt_key)
        ).scalar_one()
        if earlier < self.regeneration_limit:
            return []
        message = (
            f"this exact prompt has already been generated {earlier} times on {model}; another seed "
            "will give another variation of the same reading. Rewrite the prompt instead "
            "(POST /v1/prompts/analyze says what is missing)"
        )
        if self.regeneration_mode == "block":
            raise Conflict(message, code="unchanged_prompt", param="prompt")
        return [{"code": "unchanged_prompt", "message": message}]
