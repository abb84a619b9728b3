"""Billing errors, each with a machine-readable code."""

from __future__ import annotations

from typing import ClassVar

from local_models.errors import FramegateError, Kind


class BillingError(FramegateError):
    """Base of billing errors."""

    kind: ClassVar[Kind] = "invalid"
    code = "billing_error"


class InsufficientCredits(BillingError):
    kind = "payment"
    code = "insufficient_credits"


class BudgetExceeded(BillingError):
    kind = "payment"
    code = "budget_exceeded"


class AccountNotFound(BillingError):
    code = "account_not_found"


class BillingNotConfigured(BillingError):
    kind = "unavailable"
    code = "billing_not_configured"


class PaymentProviderFailed(BillingError):
    """Stripe answered with an error or something that is not a Checkout Session; nothing was sold."""

    kind = "unavailable"

    code = "payment_provider_error"


class CheckoutKeyReused(BillingError):
    """Stripe refused the checkout's idempotency key: it was used for another checkout (another pack)."""

    kind = "conflict"
    code = "idempotency_key_reused"


class UnknownPack(BillingError):
    code = "unknown_pack"


class InvalidWebhook(BillingError):
    code = "invalid_signature"
