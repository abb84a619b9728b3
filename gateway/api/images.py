"""Validation of uploaded reference images: real images only, pixel count capped, re-encoded as PNG."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from gateway.errors import BadRequest, PayloadTooLarge

__all__ = ["ValidatedImage", "decode_data_url", "validate_image"]

_FORMATS = {"PNG", "JPEG", "WEBP", "GIF", "BMP"}


@dataclass(frozen=True)
class ValidatedImage:
    png: bytes
    width: int
    height: int
    sha256: str


def decode_data_url(url: str, param: str = "input_reference") -> bytes:
    """Bytes of a ``data:image/...;base64,`` URL (http(s) URLs are fetched elsewhere, under the outbound
    address rules)."""
    if not url.startswith("data:"):
        raise BadRequest(
            "input_reference.image_url must be an https URL or a base64 data URL (data:image/png;base64,...)",
            code="unsupported_image_url",
            param=param,
        )
    header, sep, payload = url.partition(",")
    if not sep or ";base64" not in header:
        raise BadRequest("image data URL must be base64-encoded", code="invalid_image", param=param)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("image data URL is not valid base64", code="invalid_image", param=param) from None


def validate_image(data: bytes, *, max_pixels: int, param: str = "input_reference") -> ValidatedImage:
    """Decode ``data`` safely; raises 400 ``invalid_image`` or 413 ``image_too_large``."""
    if not data:
        raise BadRequest("the reference image is empty", code="invalid_image", param=param)
    digest = hashlib.sha256(data).hexdigest()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in _FORMATS:
                    raise BadRequest(
                        f"unsupported image format {img.format}; use PNG, JPEG or WebP",
                        code="invalid_image",
                        param=param,
                    )
                width, height = img.size
                if width * height > max_pixels:
                    raise _too_large(width, height, max_pixels, param)
                img.load()
                rgb = img.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge(
            f"the reference image has too many pixels (limit {max_pixels})",
            code="image_too_large",
            param=param,
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise BadRequest(
            "input_reference is not a readable image (PNG, JPEG or WebP)", code="invalid_image", param=param
        ) from None
    out = io.BytesIO()
    rgb.save(out, format="PNG")
    return ValidatedImage(out.getvalue(), width, height, digest)


def _too_large(width: int, height: int, max_pixels: int, param: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the reference image is {width}x{height}; at most {max_pixels} pixels are accepted",
        code="image_too_large",
        param=param,
    )
