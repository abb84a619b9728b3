"""Submitting jobs: route, price, and insert the job with its credit reserve in one transaction."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

import billing
from gateway.engine import idempotency
from gateway.engine.artifacts import ArtifactStore
from gateway.engine.db import Database
from gateway.engine.errors import Conflict, InvalidRequest, NotFound
from gateway.engine.events import EventBus, JobEvent
from gateway.engine.fleet import Fleet
from gateway.engine.ids import new_video_id
from gateway.engine.jobs.insert import insert_job, source_prompt
from gateway.engine.jobs.limits import lock_with_limits
from gateway.engine.jobs.states import QUEUED, TERMINAL
from gateway.engine.jobs.store import JobStore
from gateway.engine.jobs.submission import JobCandidate, JobRequest, check_compare, format_seconds
from gateway.engine.keys import Principal
from gateway.engine.projects import find_project
from gateway.engine.prompts import changed_layers, normalize_prompt
from local_models import GenerationParams, ModelSpec
from local_models.capabilities import capability_warnings
from router import Offer, Plan, RoutingPreferences, plan

__all__ = ["JobService", "Render", "Submitted"]

_COUNTED_RUNS = 100  # the regeneration warning says "100 or more times" beyond

Render = Callable[[Row[Any]], dict[str, Any]]
"""How a job row is shown to the caller (the web layer's video object): the engine stores the first
response to a create for idempotent replays, so it is given the renderer rather than importing it."""


def _project_not_found(project_id: str) -> NotFound:
    return NotFound(f"no project with id {project_id!r}", code="project_not_found", param="project")


def _not_found(video_id: str) -> NotFound:
    return NotFound(f"no video with id {video_id!r}", code="video_not_found", param="video_id")


def _job_values(
    principal: Principal,
    request: JobRequest,
    routed: Plan,
    job_id: str,
    input_path: Any,
    prompt: str,
    seconds: float,
) -> dict[str, Any]:
    """The new job row's columns: a queued job of ``routed``'s first choice."""
    chosen = routed.first
    params = chosen.params
    return dict(
        id=job_id,
        account_id=principal.account_id,
        key_id=principal.key_id,
        project_id=request.project,
        status=QUEUED,
        requested_model=request.video.model,
        model=chosen.spec.id,
        backend=chosen.backend,
        prompt=prompt,
        prompt_key=hashlib.sha256(normalize_prompt(prompt).encode()).hexdigest(),
        seconds=format_seconds(seconds),
        size=params.size,
        params=params.as_dict(),
        input_path=str(input_path) if input_path else None,
        input_sha256=request.image.sha256 if request.image is not None else None,
        progress=0,
        quoted_mc=chosen.price_mc,
        created_at=time.time(),
        attempts=0,
        cancel_requested=False,
        eta_seconds=round(routed.ranked[0].estimate.total, 3),
        candidates=[JobCandidate.of(c).as_record() for c in routed.candidates()],
        webhook_url=request.webhook_url,
        source_video_id=(request.source[0] or None) if request.source else None,
        source_kind=request.source[1] if request.source else None,
    )


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
        capability_guard: str = "warn",
        fleet: Fleet,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        routing_defaults: RoutingPreferences | None = None,
        key_routing: Mapping[str, RoutingPreferences] | None = None,
        key_allow: Mapping[str, Sequence[str]] | None = None,
        render: Render,
        events: EventBus | None = None,
        wake: Callable[[], None] = lambda: None,
        store: JobStore | None = None,
        cancel_local: Callable[[str], None] = lambda job_id: None,
    ) -> None:
        self.db = db
        self.artifacts = artifacts
        self.offers = offers
        self.max_prompt_chars = max_prompt_chars
        self.regeneration_mode, self.regeneration_limit = regeneration
        # Runs of one prompt are counted up to here (the count runs under the account's lock).
        self._counted_runs = max(self.regeneration_limit, _COUNTED_RUNS)
        self.capability_guard = capability_guard
        self.render = render
        self.wake = wake
        self.store = store or JobStore(db, events)
        self.events = self.store.events  # one bus: the store's transitions and the service's submits
        self.cancel_local = cancel_local
        self.fleet = fleet
        self.fallbacks = dict(fallbacks or {})
        self._default_routing = routing_defaults or RoutingPreferences()
        self._key_routing = dict(key_routing or {})
        self._key_allow = dict(key_allow or {})

    def cancel(self, account_id: str, video_id: str) -> Row[Any]:
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

    def routing_defaults(self, key_id: str | None) -> RoutingPreferences:
        """The routing a request gets when it sends none: per key from config, else the default."""
        return self._key_routing.get(key_id or "", self._default_routing)

    def route(self, request: JobRequest, principal: Principal | None = None) -> Plan:
        """Validate the request and rank the candidates (no side effects; also quotes and explain).

        ``principal``: whose request it is (their key's routing defaults apply).
        """
        key_id = principal.key_id if principal is not None else None
        prompt = request.prompt.strip()
        if not prompt:
            raise InvalidRequest(
                "prompt is required and must not be empty", code="missing_prompt", param="prompt"
            )
        if len(prompt) > self.max_prompt_chars:
            raise InvalidRequest(
                f"prompt is {len(prompt)} characters; the limit is {self.max_prompt_chars}",
                code="prompt_too_long",
                param="prompt",
            )
        negative = request.video.negative_prompt or ""
        if len(negative) > self.max_prompt_chars:
            raise InvalidRequest(
                f"negative_prompt is {len(negative)} characters; the limit is {self.max_prompt_chars}",
                code="negative_prompt_too_long",
                param="negative_prompt",
            )
        if request.problem is not None:
            raise request.problem
        return plan(
            request.video,
            self.offers(),
            request.routing or self.routing_defaults(key_id),
            view=self.fleet.view(),
            health=self.fleet.health_snapshot(),
            fallbacks=self.fallbacks,
            allowed=self._key_allow.get(key_id or ""),
        )

    def preview(self, request: JobRequest, principal: Principal) -> Plan:
        """What a create would route to, creating nothing (quotes and explain): also refuses, as a
        create would, a project the caller does not have."""
        if request.project is not None:
            with self.db.read() as conn:
                if find_project(conn, principal.account_id, request.project) is None:
                    raise _project_not_found(request.project)
        return self.route(request, principal)

    def _plans(self, request: JobRequest, principal: Principal) -> list[Plan]:
        if not request.compare:
            return [self.route(request, principal)]
        check_compare(request.compare)
        # A/B: one job per model, each its own plan (no fallbacks: a take must be that model).
        single = replace(request.routing or self.routing_defaults(principal.key_id), allow_fallbacks=False)
        return [
            self.route(replace(request, video=replace(request.video, model=m), routing=single), principal)
            for m in request.compare
        ]

    def submit(
        self,
        principal: Principal,
        request: JobRequest,
        idem: idempotency.IdempotentRequest | None = None,
        on_created: Callable[[Connection, list[dict[str, Any]]], object] | None = None,
    ) -> Submitted:
        """Create the job (or, with ``compare``, one per model) and reserve its credits, in one
        transaction. ``on_created(conn, videos)`` runs inside it (shots use it to record takes)."""
        if idem is not None:
            with self.db.read() as conn:
                replay = idempotency.find(conn, idem, forget=False)
            if replay is not None:
                return Submitted(replay.body, True)
        if request.video.mode == "i2v" and request.image is None:
            raise InvalidRequest(
                "image-to-video needs an input_reference image", code="missing_image", param="input_reference"
            )
        plans = self._plans(request, principal)
        job_ids = [new_video_id() for _ in plans]
        image = request.image
        inputs = [
            self.artifacts.save_input(j, image.png, ".png") if image is not None else None for j in job_ids
        ]
        try:
            with self.db.write(queue_on=principal.account_id) as conn:
                limits = lock_with_limits(conn, principal.account_id, principal.key_id, request.project)
                if idem is not None and (replay := idempotency.find(conn, idem)) is not None:
                    self._discard(inputs)
                    return Submitted(replay.body, True)
                created = []
                for routed, job_id, path in zip(plans, job_ids, inputs, strict=True):
                    try:
                        created.append(self._insert(conn, principal, request, routed, job_id, path, limits))
                    except billing.InsufficientCredits:
                        if len(plans) == 1:
                            raise
                        raise _compare_refused(conn, principal.account_id, plans, len(created)) from None
                videos = [video for _, video in created]
                if on_created is not None:
                    on_created(conn, videos)
                body = videos[0] if len(videos) == 1 else {"object": "list", "data": videos}
                if idem is not None:
                    idempotency.remember(conn, idem, 200, body)
        except IntegrityError as exc:
            # Another request with the same Idempotency-Key committed first (PostgreSQL): replay it.
            self._discard(inputs)
            return Submitted(idempotency.replay_race(self.db, idem, exc).body, True)
        except BaseException:
            self._discard(inputs)
            raise
        for row, _ in created:
            self.events.emit(JobEvent.of("video.submitted", row, credits_mc=row.quoted_mc))
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
        request: JobRequest,
        routed: Plan,
        job_id: str,
        input_path: Any,
        limits: billing.BudgetLimits,
    ) -> tuple[Row[Any], dict[str, Any]]:
        """Insert one job row and hold its credits; the caller holds the account's lock and read
        the ``limits`` its job is held to."""
        chosen = routed.first
        params = chosen.params
        prompt = request.prompt.strip()
        warnings = self._capability_check(chosen.spec, prompt, params, request.video.size is not None)
        seconds = request.video.seconds
        if seconds is None:
            seconds = chosen.spec.default_seconds
        if request.project is not None and find_project(conn, principal.account_id, request.project) is None:
            raise _project_not_found(request.project)  # deleted since the request was routed
        hold = billing.plan_hold(  # checks the budgets; submit() took the account's lock first
            conn,
            principal.account_id,
            job_id,
            chosen.price_mc,
            api_key_id=principal.key_id,
            project_id=request.project,
            model=chosen.spec.id,
            limits=limits,
        )
        values = _job_values(principal, request, routed, job_id, input_path, prompt, seconds)
        # The regeneration guard (block mode refuses) is told before a hold that did not fit is: the
        # prompt, not the balance, is what the creator must change first.
        row, history = insert_job(
            conn,
            values,
            hold,
            lambda h: warnings.extend(self._regeneration_check(h.earlier, chosen.spec.id)),
            count_up_to=self._counted_runs,
        )
        # How the prompt differs from the previous video's on this model (a remix's, extension's or
        # edit's: from its source's; of an uploaded clip, from none): the layers it changed (empty:
        # only order, case or punctuation did, and the guard counted it as unchanged).
        previous = (history.last_id, history.last_prompt)
        if request.source is not None:
            source_id = request.source[0] or None  # "": an uploaded clip
            previous = (source_id, source_prompt(conn, source_id) if source_id else None)
        video = self.render(row)
        if warnings:
            video["warnings"] = warnings
        if previous[0] is not None:
            video["prompt_change"] = {
                "previous_video_id": previous[0],
                "changed_layers": changed_layers(previous[1] or "", prompt),
            }
        return row, video

    def _capability_check(
        self, spec: ModelSpec, prompt: str, params: GenerationParams, size_asked: bool
    ) -> list[dict[str, Any]]:
        """What the model will ignore in this request: warnings (default) or, in block mode, a refusal."""
        if self.capability_guard == "off":
            return []
        found = capability_warnings(spec, prompt, params, size_asked=size_asked)
        if found and self.capability_guard == "block":
            first = found[0]
            raise InvalidRequest(
                first.message + " (FRAMEGATE_CAPABILITY_GUARD=block refuses such requests)",
                code=first.code,
                param=first.param,
            )
        return [w.as_dict() for w in found]

    def _regeneration_check(self, earlier: int, model: str) -> list[dict[str, str]]:
        """An unchanged prompt regenerated on the same model more than the limit (``earlier`` times
        already): the prompt, not the seed, is the problem. Warn (default) or refuse."""
        if self.regeneration_mode == "off" or earlier < self.regeneration_limit:
            return []
        times = f"{earlier}" if earlier < self._counted_runs else f"{earlier} or more"
        message = (
            f"this prompt (or one that differs only in case, punctuation, articles or word order) has "
            f"already been generated {times} times on {model}; another seed "
            "will give another variation of the same reading. Rewrite the prompt instead "
            "(POST /v1/prompts/analyze says what is missing)"
        )
        if self.regeneration_mode == "block":
            raise Conflict(message, code="unchanged_prompt", param="prompt")
        return [{"code": "unchanged_prompt", "message": message}]


def _compare_refused(
    conn: Connection, account_id: str, plans: Sequence[Plan], placed: int
) -> billing.InsufficientCredits:
    """A compare whose takes do not all fit: its whole price against the balance before it (the
    ``placed`` takes held so far in this transaction are rolled back with it)."""
    placed_mc = sum(p.first.price_mc for p in plans[:placed])
    total_mc = sum(p.first.price_mc for p in plans)
    balance = billing.get_balance(conn, account_id)
    return billing.InsufficientCredits(
        f"this compare's {len(plans)} takes cost {billing.credits(total_mc):g} credits in all but only "
        f"{billing.credits(balance.available_mc + placed_mc):g} are available "
        f"({billing.credits(balance.held_mc - placed_mc):g} held by running jobs)"
    )
