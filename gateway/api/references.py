"""The reference image of a create: an upload, a data URL, an http(s) URL (fetched under the outbound
address rules) or a character's frame; validated and re-encoded once, here."""

from __future__ import annotations

from anyio import to_thread

from gateway.api.bodies import CreateBody
from gateway.api.images import ValidatedImage, validate_image
from gateway.engine.characters import character_image
from gateway.engine.keys import Principal
from gateway.engine.outbound import fetch_bytes
from gateway.errors import BadRequest
from gateway.state import AppState

__all__ = ["checked_webhook_url", "reference_image"]


async def reference_image(state: AppState, who: Principal, body: CreateBody) -> ValidatedImage | None:
    data = body.image_bytes
    if body.image_url is not None:
        data = await fetch_bytes(
            state.outbound,
            body.image_url,
            param="input_reference",
            max_bytes=state.settings.max_body_bytes,
            timeout=state.settings.image_url_timeout_seconds,
        )
    if body.fields.characters:
        if data is not None:
            raise BadRequest(
                "send input_reference or characters, not both", code="invalid_parameter", param="characters"
            )
        data = await to_thread.run_sync(
            character_image, state.db, state.artifacts, who.account_id, body.fields.characters[0]
        )
    if data is None:
        return None
    image = data
    return await to_thread.run_sync(lambda: validate_image(image, max_pixels=state.settings.max_image_pixels))


async def checked_webhook_url(state: AppState, url: str | None) -> str | None:
    """A create's ``webhook_url``, held to the same address rules as webhook endpoints."""
    return None if url is None else await state.outbound.accept(url, param="webhook_url")
