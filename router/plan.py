"""The router's entry point: a request, the offers, the caller's preferences and the fleet's state in;
an ordered list of candidates out, with the reason every other offer was excluded."""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from local_models.errors import InvalidInput
from local_models.spec import MAX_SEED, VideoRequest

from .candidates import AUTO, Candidate, Offer, make_candidate
from .errors import BackendsUnavailable, ModelNotAllowed, ModelNotFound, NoCandidate
from .estimate import Estimate, FleetView, estimate
from .health import BackendHealth
from .policy import POLICIES, Scored
from .preferences import POLICY_NAMES, RoutingPreferences

__all__ = ["Exclusion", "Plan", "Ranked", "plan"]


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    estimate: Estimate
    score: float
    why: str


@dataclass(frozen=True)
class Exclusion:
    model: str
    backend: str
    code: str
    reason: str


@dataclass(frozen=True)
class Plan:
    ranked: list[Ranked]
    excluded: list[Exclusion] = field(default_factory=list)

    @property
    def first(self) -> Candidate:
        return self.ranked[0].candidate

    def candidates(self) -> list[Candidate]:
        return [r.candidate for r in self.ranked]


def plan(
    request: VideoRequest,
    offers: Sequence[Offer],
    prefs: RoutingPreferences | None = None,
    *,
    view: FleetView | None = None,
    health: Mapping[str, BackendHealth] | None = None,
    fallbacks: Mapping[str, Sequence[str]] | None = None,
    rng: random.Random | None = None,
    allowed: Collection[str] | None = None,
) -> Plan:
    """Rank the candidates for ``request``. Never returns an empty plan: raises instead.

    An explicit model comes first, then its configured fallback chain; ``"auto"`` (or no model)
    ranks every fitting model by the policy. An explicit model that cannot honour the request
    raises its own precise error (size, frames, mode...). ``allowed`` is the operator's allow-list for
    the caller's key (model ids, backend or provider names); None: everything.
    """
    prefs = prefs or RoutingPreferences()
    fallbacks = fallbacks or {}
    _check_names(request, offers, prefs)
    _check_allowed(request, offers, allowed)
    explicit = request.model not in (None, AUTO)
    seed = request.seed if request.seed is not None else (rng or random.SystemRandom()).randint(0, MAX_SEED)
    chain: list[str | None] = (
        [request.model, *fallbacks.get(request.model or "", ())] if explicit else list(prefs.order)
    )
    excluded: list[Exclusion] = []
    scored: list[Scored] = []
    for offer in offers:
        if explicit and offer.spec.id not in chain:
            continue
        if allowed is not None and not _names(offer) & set(allowed):
            reason = "this API key may not use it (the operator's allow-list)"
            excluded.append(Exclusion(offer.spec.id, offer.backend, "not_allowed_for_key", reason))
            continue
        outcome = _consider(offer, request, seed, prefs, health or {}, view or FleetView(), explicit)
        if isinstance(outcome, Scored):
            scored.append(outcome)
        else:
            excluded.append(outcome)
    ranked = _order(scored, chain, prefs, explicit)
    if not prefs.allow_fallbacks:
        excluded.extend(
            Exclusion(
                r.candidate.spec.id,
                r.candidate.backend,
                "fallbacks_disabled",
                "routing.allow_fallbacks is false",
            )
            for r in ranked[1:]
        )
        ranked = ranked[:1]
    if not ranked:
        reasons = (
            "; ".join(f"{e.model} on {e.backend}: {e.reason}" for e in excluded) or "no models are configured"
        )
        if any(e.code == "circuit_open" for e in excluded):  # it would fit, once that backend recovers
            raise BackendsUnavailable(f"no backend can serve this request now: {reasons}", retry_after=30)
        raise NoCandidate(f"no model can serve this request: {reasons}")
    return Plan(ranked, excluded)


def _check_names(request: VideoRequest, offers: Sequence[Offer], prefs: RoutingPreferences) -> None:
    """The policy and every model the request names must exist."""
    if prefs.policy not in POLICY_NAMES:
        raise InvalidInput(
            f"routing.policy must be one of {', '.join(POLICY_NAMES)}",
            code="invalid_routing",
            param="routing.policy",
        )
    known = {o.spec.id for o in offers}
    if request.model not in (None, AUTO) and request.model not in known:
        raise ModelNotFound(
            f"model {request.model!r} does not exist (available: {', '.join(sorted(known)) or 'none'})",
            param="model",
        )
    for name in prefs.order:
        if name not in known:
            raise ModelNotFound(f"routing.order names unknown model {name!r}", param="routing.order")


def _check_allowed(request: VideoRequest, offers: Sequence[Offer], allowed: Collection[str] | None) -> None:
    """A model the caller names must be on its key's allow-list (on at least one backend)."""
    if allowed is None or request.model in (None, AUTO):
        return
    if not any(o.spec.id == request.model and _names(o) & set(allowed) for o in offers):
        raise ModelNotAllowed(
            f"this API key may not use {request.model!r} (the operator's allow-list: {', '.join(allowed)})",
            param="model",
        )


def _consider(
    offer: Offer,
    request: VideoRequest,
    seed: int,
    prefs: RoutingPreferences,
    health: Mapping[str, BackendHealth],
    view: FleetView,
    explicit: bool,
) -> Scored | Exclusion:
    """One offer, scored, or the reason it is left out. The model the caller named raises its own
    precise error instead of being left out."""
    model, backend = offer.spec.id, offer.backend
    if prefs.only and not _names(offer) & set(prefs.only):
        return Exclusion(model, backend, "not_in_only", "not listed in routing.only")
    if _names(offer) & set(prefs.ignore):
        return Exclusion(model, backend, "ignored", "listed in routing.ignore")
    state = health.get(backend)
    if state is not None and not state.available:
        return Exclusion(model, backend, "circuit_open", f"backend {backend} is failing (circuit open)")
    try:
        candidate = make_candidate(offer, request, seed)
    except InvalidInput as exc:
        if explicit and model == request.model:
            raise
        return Exclusion(model, backend, exc.code, exc.message)
    est = estimate(offer.spec, backend, candidate.params, view)
    if prefs.max_price_mc is not None and candidate.price_mc > prefs.max_price_mc:
        reason = f"costs {candidate.price_mc / 1000:g} credits, over routing.max_price"
        return Exclusion(model, backend, "over_max_price", reason)
    if prefs.max_wait_seconds is not None and est.total > prefs.max_wait_seconds:
        return Exclusion(
            model, backend, "over_max_wait", f"estimated {est.total:.1f} s, over routing.max_wait_seconds"
        )
    return Scored(candidate, est)


def _names(offer: Offer) -> set[str]:
    """What ``routing.only``/``ignore`` and allow-lists may call an offer: its model, its backend, and
    for a hosted model its provider (``fal``, ``replicate``, ``veo``, ``openai``)."""
    names = {offer.spec.id, offer.backend}
    provider = offer.spec.extras.get("hosted")
    if isinstance(provider, str):
        names.add(provider)
    return names


def _order(
    scored: list[Scored], chain: list[str | None], prefs: RoutingPreferences, explicit: bool
) -> list[Ranked]:
    policy = POLICIES[prefs.policy]
    out: list[Ranked] = []
    placed: set[tuple[str, str]] = set()
    for position, model in enumerate(chain):
        group = [s for s in scored if s.candidate.spec.id == model]
        why = (
            "the requested model"
            if explicit and position == 0
            else (f"fallback {position} of {chain[0]}" if explicit else f"routing.order {position + 1}")
        )
        for s, score in policy(group):
            out.append(Ranked(s.candidate, s.estimate, score, why))
            placed.add(s.key)
    if not explicit:
        rest = [s for s in scored if s.key not in placed]
        out.extend(
            Ranked(s.candidate, s.estimate, score, f"policy {prefs.policy}") for s, score in policy(rest)
        )
    return out
