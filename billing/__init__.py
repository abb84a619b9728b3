"""Credits: a double-entry ledger (grants, purchases, two-phase job transfers), budgets, pricing, Stripe,
usage. Takes a database connection; never calls a model."""

from .budgets import BudgetLimits, spent_mc
from .errors import (
    AccountNotFound,
    BillingError,
    BillingNotConfigured,
    BudgetExceeded,
    InsufficientCredits,
    InvalidWebhook,
    PaymentProviderFailed,
    UnknownPack,
)
from .ledger import (
    Balance,
    adjust_reserve,
    capture,
    create_account,
    ensure_account,
    find_account,
    get_balance,
    grant,
    lock_account,
    purchase,
    reserve,
    void,
)
from .pricing import MC_PER_CREDIT, PriceRule, credits, millicredits, quote_mc
from .schema import SYSTEM_ACCOUNTS, metadata
from .stripe_billing import (
    CreditPack,
    StripeConfig,
    create_checkout,
    handle_webhook,
    record_session,
    verify_event,
)
from .usage import GROUPS, record_usage, usage_report
from .verify import verify_ledger

__all__ = [
    "GROUPS",
    "MC_PER_CREDIT",
    "SYSTEM_ACCOUNTS",
    "AccountNotFound",
    "Balance",
    "BillingError",
    "BillingNotConfigured",
    "BudgetExceeded",
    "BudgetLimits",
    "CreditPack",
    "InsufficientCredits",
    "InvalidWebhook",
    "PaymentProviderFailed",
    "PriceRule",
    "StripeConfig",
    "UnknownPack",
    "adjust_reserve",
    "capture",
    "create_account",
    "create_checkout",
    "credits",
    "ensure_account",
    "find_account",
    "get_balance",
    "grant",
    "handle_webhook",
    "lock_account",
    "metadata",
    "millicredits",
    "purchase",
    "quote_mc",
    "record_session",
    "record_usage",
    "reserve",
    "spent_mc",
    "usage_report",
    "verify_event",
    "verify_ledger",
    "void",
]
