"""Webhooks: endpoints, Standard Webhooks signing, the outbox and its delivery worker."""

from gateway.engine.webhooks.delivery import DEFAULT_SCHEDULE, DeliveryConfig, WebhookDeliverer
from gateway.engine.webhooks.endpoints import EVENT_TYPES, Endpoint
from gateway.engine.webhooks.outbox import WebhookOutbox
from gateway.engine.webhooks.signing import SecretKey

__all__ = [
    "DEFAULT_SCHEDULE",
    "EVENT_TYPES",
    "DeliveryConfig",
    "Endpoint",
    "SecretKey",
    "WebhookDeliverer",
    "WebhookOutbox",
]
