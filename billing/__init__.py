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
from .job_transfers import adjust_reserve, capture, refund, reserve, void
from .ledger import (
    Balance,
    create_account,
    ensure_account,
    find_account,
    get_balance,
    grant,
    lock_account,
    purchase,
)
from .pricing import MC_PER_CREDIT, PriceRule, credits, millicredits, quote_mc
from .schema import SYSTEM_ACCOUNTS, metadata
from .settlement import Refund, Settlement, settle
from .statements import (
    AccountSummary,
    PendingReserve,
    StatementEntry,
    StatementPage,
    account_summary,
    pending_reserves,
    statement,
)
from .stripe_billing import (
    CreditPack,
    StripeConfig,
    create_checkout,
    handle_webhook,
    record_session,
    session_credits_mc,
    verify_event,
)
from .usage import GROUPS, UsageRecord, record_usage, usage_report
from .verify import verify_ledger

__all__ = [
    "GROUPS",
    "MC_PER_CREDIT",
    "SYSTEM_ACCOUNTS",
    "AccountNotFound",
    "AccountSummary",
    "Balance",
    "BillingError",
    "BillingNotConfigured",
    "BudgetExceeded",
    "BudgetLimits",
    "CreditPack",
    "InsufficientCredits",
    "InvalidWebhook",
    "PaymentProviderFailed",
    "PendingReserve",
    "PriceRule",
    "Refund",
    "Settlement",
    "StatementEntry",
    "StatementPage",
    "StripeConfig",
    "UnknownPack",
    "UsageRecord",
    "account_summary",
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
    "pending_reserves",
    "purchase",
    "quote_mc",
    "record_session",
    "record_usage",
    "refund",
    "reserve",
    "session_credits_mc",
    "settle",
    "spent_mc",
    "statement",
    "usage_report",
    "verify_event",
    "verify_ledger",
    "void",
]
