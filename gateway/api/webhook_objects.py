"""Webhook request bodies and the objects the webhook routes return (their contract)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Character",
    "Delivery",
    "DeliveryList",
    "EndpointCreate",
    "EndpointUpdate",
    "EventTypeList",
    "RotateSecret",
    "TestResult",
    "WebhookEndpoint",
    "WebhookEndpointList",
    "WebhookSecret",
    "WebhookTest",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class EndpointCreate(_Body):
    """``POST /v1/webhook_endpoints`` (``client.webhooks.create``)."""

    url: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=200)
    event_types: list[str] = Field(min_length=1, max_length=20)


class EndpointUpdate(_Body):
    """``POST /v1/webhook_endpoints/{id}``: what is sent changes; the rest stays."""

    url: str | None = Field(default=None, min_length=1)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=20)


class RotateSecret(_Body):
    keep_old_secret_active_for_24_hours: bool = False


class WebhookTest(_Body):
    event_type: str


class _Object(BaseModel):
    model_config = ConfigDict(extra="allow")


class WebhookEndpoint(_Object):
    id: str
    object: Literal["webhook_endpoint"]
    name: str
    url: str
    event_types: list[str]
    created_at: int
    updated_at: int | None
    signing_secret_hint: str | None
    signing_secret: str | None = Field(default=None, description="only when created or rotated")


class WebhookEndpointList(_Object):
    object: Literal["list"]
    data: list[WebhookEndpoint]
    first_id: str | None
    last_id: str | None
    has_more: bool


class TestResult(_Object):
    object: Literal["webhook_endpoint.test"]
    event_type: str
    status_code: int
    success: bool
    webhook_endpoint_id: str


class EventTypeList(_Object):
    object: Literal["list"]
    data: list[str]


class Delivery(_Object):
    id: str
    object: Literal["webhook_delivery"]
    event_id: str
    event_type: str
    video_id: str | None
    endpoint_id: str | None
    url: str | None
    status: Literal["pending", "delivering", "delivered", "failed"]
    attempts: int
    next_attempt_at: int | None
    last_status_code: int | None
    last_error: str | None
    created_at: int
    delivered_at: int | None
    attempt_log: list[dict[str, Any]] | None = Field(default=None, description="on a single delivery")


class DeliveryList(_Object):
    object: Literal["list"]
    data: list[Delivery]
    first_id: str | None
    last_id: str | None
    has_more: bool


class WebhookSecret(_Object):
    object: Literal["webhook_secret"]
    signing_secret: str
    created_at: int
    updated_at: int


class Character(_Object):
    id: str
    object: Literal["character"]
    name: str
    created_at: int
