"""Credits: accounts, holds (reserve -> capture/release), grants, pricing. Takes a DB connection; never
calls a model."""

from .credits import (
    Balance,
    capture,
    create_account,
    ensure_account,
    find_account,
    get_balance,
    grant,
    hold,
    release,
)
from .errors import AccountNotFound, BillingError, InsufficientCredits
from .pricing import MC_PER_CREDIT, credits, millicredits, quote_mc
from .schema import metadata

__all__ = [
    "MC_PER_CREDIT",
    "AccountNotFound",
    "Balance",
    "BillingError",
    "InsufficientCredits",
    "capture",
    "create_account",
    "credits",
    "ensure_account",
    "find_account",
    "get_balance",
    "grant",
    "hold",
    "metadata",
    "millicredits",
    "quote_mc",
    "release",
]
