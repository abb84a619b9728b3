"""Which model and backend serve a request. The router decides; it never runs a job.

Pure functions over candidates (``plan``, the policies, ``estimate``); backend health is recorded
apart from choice (``HealthRegistry``) and passed in as a snapshot.
"""

from .candidates import AUTO, Candidate, Offer, default_price, make_candidate
from .dispatch import LOAD_FACTOR, Queued, next_job
from .errors import BackendsUnavailable, ModelNotAllowed, ModelNotFound, NoCandidate, RoutingError
from .estimate import BackendView, Estimate, FleetView, History, estimate, load_seconds, run_seconds
from .health import BackendHealth, BreakerConfig, CircuitBreaker, HealthRegistry
from .plan import Exclusion, Plan, Ranked, plan
from .policy import POLICIES, Policy, Scored, balanced, cheapest, fastest, quality
from .preferences import POLICY_NAMES, RoutingPreferences

__all__ = [
    "AUTO",
    "LOAD_FACTOR",
    "POLICIES",
    "POLICY_NAMES",
    "BackendHealth",
    "BackendView",
    "BackendsUnavailable",
    "BreakerConfig",
    "Candidate",
    "CircuitBreaker",
    "Estimate",
    "Exclusion",
    "FleetView",
    "HealthRegistry",
    "History",
    "ModelNotAllowed",
    "ModelNotFound",
    "NoCandidate",
    "Offer",
    "Plan",
    "Policy",
    "Queued",
    "Ranked",
    "RoutingError",
    "RoutingPreferences",
    "Scored",
    "balanced",
    "cheapest",
    "default_price",
    "estimate",
    "fastest",
    "load_seconds",
    "make_candidate",
    "next_job",
    "plan",
    "quality",
    "run_seconds",
]
