"""Reading ``POST /v1/videos`` bodies: JSON or multipart/urlencoded forms, as the OpenAI SDK and curl send."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from gateway.api.edge import clean_form_value, loads_json_off_loop
from gateway.api.images import decode_data_url
from gateway.api.schemas import VideoCreate, parse_model
from gateway.errors import BadRequest, UnsupportedMediaType

__all__ = ["CreateBody", "parse_json_body", "read_create_body"]


@dataclass
class CreateBody:
    """A parsed create: its fields, and the reference image as bytes or as an http(s) URL to fetch."""

    fields: VideoCreate
    image_bytes: bytes | None
    image_url: str | None = None


async def read_create_body(request: Request, *, max_body_bytes: int) -> CreateBody:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        return _from_json(await loads_json_off_loop(await request.body()))
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _from_form(request, max_body_bytes)
    raise UnsupportedMediaType(
        f"unsupported content type {content_type or '(none)'!r}: "
        "send application/json or multipart/form-data",
    )


def _from_json(data: Any) -> CreateBody:
    if not isinstance(data, dict):
        raise BadRequest("the JSON body must be an object", code="invalid_json")
    return parse_json_body(data)


def parse_json_body(data: dict[str, Any]) -> CreateBody:
    """A create body from already-decoded JSON (also used by quotes)."""
    fields = parse_model(VideoCreate, data)
    if fields.input_reference is None:
        return CreateBody(fields, None)
    reference = fields.input_reference
    fields = fields.model_copy(update={"input_reference": None})
    return _with_reference(fields, reference.image_url, reference.file_id)


async def _from_form(request: Request, max_body_bytes: int) -> CreateBody:
    try:
        form = await request.form(max_files=2, max_fields=64, max_part_size=max_body_bytes)
    except (HTTPException, MultiPartException, ValueError) as exc:
        detail = getattr(exc, "detail", None) or getattr(exc, "message", None) or str(exc)
        raise BadRequest(f"could not parse the form body: {detail}", code="invalid_body") from None
    data: dict[str, Any] = {}
    routing: dict[str, Any] = {}
    image: bytes | None = None
    image_url = file_id = None
    seen: set[str] = set()
    for key, value in form.multi_items():
        if key == "characters[]" and isinstance(value, str):  # the SDK's form of a list
            listed = data.setdefault("characters", [])
            if not isinstance(listed, list):
                raise BadRequest("characters is sent both as JSON and as a list", param="characters")
            listed.append(clean_form_value(key, value))
            continue
        nested = _ROUTING_FIELD.fullmatch(key)
        if nested is not None and isinstance(value, str):
            _add_routing_field(routing, nested.group(1), bool(nested.group(2)), clean_form_value(key, value))
            continue
        if key in seen:
            raise BadRequest(f"{key} is sent twice", code="invalid_parameter", param=key)
        seen.add(key)
        if key == "input_reference" and isinstance(value, UploadFile):
            image = await value.read()
        elif isinstance(value, UploadFile):
            raise BadRequest(f"unexpected file part {key!r}", code="unknown_parameter", param=key)
        elif key in ("input_reference", "input_reference[image_url]"):
            image_url = clean_form_value(key, value)
        elif key == "input_reference[file_id]":
            file_id = clean_form_value(key, value)
        else:
            data[key] = clean_form_value(key, value)
    if sum(x is not None for x in (image, image_url, file_id)) > 1:
        raise BadRequest(
            "send one input_reference: a file, an image_url or a file_id",
            code="invalid_parameter",
            param="input_reference",
        )
    await form.close()
    if routing:
        if "routing" in data:
            raise BadRequest(
                "send routing as one JSON field or as routing[...] fields, not both",
                code="invalid_parameter",
                param="routing",
            )
        data["routing"] = routing
    fields = parse_model(VideoCreate, data, lax=True)
    if image is None and (image_url is not None or file_id is not None):
        return _with_reference(fields, image_url, file_id)
    return CreateBody(fields, image)


# ``routing[policy]=fastest``, ``routing[compare][]=a``: how the OpenAI SDK (and PHP/Rails-style clients)
# write a nested ``extra_body={"routing": {...}}`` into a multipart form.
_ROUTING_FIELD = re.compile(r"routing\[([a-z_]{1,32})\](\[\])?")


def _add_routing_field(routing: dict[str, Any], name: str, is_list: bool, value: str) -> None:
    param = f"routing.{name}"
    if is_list:
        existing = routing.setdefault(name, [])
        if not isinstance(existing, list):
            raise BadRequest(
                f"{param} is sent both as a value and as a list", code="invalid_parameter", param=param
            )
        existing.append(value)
    elif name in routing:
        raise BadRequest(f"{param} is sent twice", code="invalid_parameter", param=param)
    else:
        routing[name] = value


def _with_reference(fields: VideoCreate, image_url: str | None, file_id: str | None) -> CreateBody:
    if image_url is not None and image_url[:8].lower().startswith(("http://", "https://")):
        return CreateBody(fields, None, image_url)  # fetched by the route, under the address rules
    return CreateBody(fields, _reference_bytes(image_url, file_id))


def _reference_bytes(image_url: str | None, file_id: str | None) -> bytes:
    if file_id is not None:
        raise BadRequest(
            "input_reference.file_id is not supported: upload the image or send a data URL",
            code="unsupported_file_id",
            param="input_reference",
        )
    if not image_url:
        raise BadRequest(
            "input_reference needs an image file or image_url", code="invalid_image", param="input_reference"
        )
    return decode_data_url(image_url)
