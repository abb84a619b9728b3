"""Billing errors, each with a machine-readable code."""

from __future__ import annotations


class BillingError(Exception):
    code = "billing_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param


class InsufficientCredits(BillingError):
    code = "insufficient_credits"


class BudgetExceeded(BillingError):
    code = "budget_exceeded"


class AccountNotFound(BillingError):
    code = "account_not_found"


class BillingNotConfigured(BillingError):
    code = "billing_not_configured"


class PaymentProviderFailed(BillingError):
    """Stripe answered with an error or something that is not a Checkout Session; nothing was sold."""

    code = "payment_provider_error"


class UnknownPack(BillingError):
    code = "unknown_pack"


class InvalidWebhook(BillingError):
    code = "invalid_signature"
