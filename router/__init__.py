"""Which model and backend serve a request. The router decides; it never runs a job."""

from .candidates import AUTO, Candidate, Offer, RouteRequest, candidates_for, default_price
from .errors import ModelNotFound, NoCandidate, RoutingError
from .plan import plan
from .policy import POLICIES, Policy, cheapest

__all__ = [
    "AUTO",
    "POLICIES",
    "Candidate",
    "ModelNotFound",
    "NoCandidate",
    "Offer",
    "Policy",
    "RouteRequest",
    "RoutingError",
    "candidates_for",
    "cheapest",
    "default_price",
    "plan",
]
