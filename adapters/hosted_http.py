"""HTTP to a hosted provider, with every failure classified at this boundary.

401/403 and content refusals are permanent (no retry, no fallback: another backend would not make a
bad key good, and a refused prompt is the request's fault); 429 is transient and carries the
provider's ``retry-after``; 5xx, timeouts and dropped connections are transient. The API key rides in
a header and is never put in an error, a log line or a URL.
"""

from __future__ import annotations

import email.utils
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from .base import CancelEvent
from .errors import AdapterError, Cancelled, PermanentError, TransientError

__all__ = ["ErrorReader", "ProviderHttp", "RateLimited", "retry_after_seconds"]

ErrorReader = Callable[[httpx.Response], tuple[str, bool]]
"""A provider's error body -> (a short message, whether it is a content refusal)."""

MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a status or submit answer (the clip itself is streamed to disk)

_REFUSAL_WORDS = ("content_policy", "moderation", "safety", "nsfw", "flagged as sensitive", "(e005)", "refus")


class RateLimited(TransientError):
    """HTTP 429; ``retry_after`` is the provider's hint in seconds (None: it gave none)."""

    code = "provider_rate_limited"


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``retry-after`` as seconds: delta-seconds or an HTTP date (RFC 9110)."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # unreadable: as if the provider gave no hint
    return max(0.0, parsed.timestamp() - time.time())


def looks_refused(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _REFUSAL_WORDS)


class ProviderHttp:
    """An ``httpx.Client`` bound to one provider: base URL, auth headers, classification."""

    def __init__(
        self,
        name: str,
        base_url: str,
        auth: Mapping[str, str],
        read_error: ErrorReader,
        *,
        timeout: float = 30.0,
        max_download_bytes: int = 2 * 1024**3,
        url_check: Callable[[str], str | None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._auth = dict(auth)
        # The key's text, to scrub from anything a provider echoes back (an error that quotes the request).
        self._secrets = {v.split()[-1] for v in self._auth.values() if v.split() and len(v.split()[-1]) >= 8}
        # Result URLs away from the provider's own origin (a CDN) must pass the gateway's address rules:
        # a provider's answer must not make the gateway fetch its own network.
        self._url_check = url_check
        self._read_error = read_error
        self.max_download_bytes = max_download_bytes
        # identity: answers are decoded here, bounded (see _decoded), never by httpx in one go.
        self.client = httpx.Client(
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            headers={"accept-encoding": "identity"},
        )

    def close(self) -> None:
        self.client.close()

    def url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else f"{self.base_url}/{path_or_url.lstrip('/')}"

    def call(self, method: str, path_or_url: str, **kwargs: Any) -> httpx.Response:
        """One request; a non-2xx answer or a transport failure raises a classified error. An answer
        over ``MAX_ANSWER_BYTES`` raises ``ValueError`` (not the provider's documented shape)."""
        url = self.url(path_or_url)
        self._check_url(url)
        headers = {**self._headers_for(url), **kwargs.pop("headers", {})}
        try:
            request = self.client.build_request(method, url, headers=headers, **kwargs)
            streamed = self.client.send(request, stream=True)
            try:
                body = _read_capped(streamed, MAX_ANSWER_BYTES)
            finally:
                streamed.close()
        except httpx.TimeoutException:
            raise TransientError(
                f"{self.name}: the provider did not answer in time", code="provider_timeout"
            ) from None
        except httpx.TransportError as exc:
            raise TransientError(
                f"{self.name}: could not reach the provider ({type(exc).__name__})",
                code="provider_unreachable",
            ) from None
        kept = [
            (k, v)
            for k, v in streamed.headers.multi_items()
            if k not in ("content-encoding", "content-length")
        ]
        response = httpx.Response(streamed.status_code, headers=kept, content=body, request=request)
        if response.status_code >= 400:
            raise self.error(response)
        return response

    def error(self, response: httpx.Response) -> AdapterError:
        """Classify a provider's error answer."""
        status = response.status_code
        try:
            message, refused = self._read_error(response)
        except Exception:  # a body that is not the provider's documented shape
            message, refused = response.reason_phrase or "error", False
        message = f"{self.name}: {self.redact(message)[:300]}"
        if status == 429:
            return RateLimited(f"{message} (rate limited)", retry_after=retry_after_seconds(response.headers))
        if status >= 500:
            return TransientError(message, code="provider_unavailable")
        if status in (401, 403):
            return PermanentError(f"{message} (check the provider's API key)", code="provider_auth_failed")
        if refused or looks_refused(message):
            return PermanentError(message, code="content_refused")
        if status == 404:
            return PermanentError(message, code="provider_not_found")
        return PermanentError(message, code="provider_rejected")

    def redact(self, text: str) -> str:
        """``text`` without the provider key in it."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def download(
        self,
        url: str,
        path: Path,
        cancel: CancelEvent,
        *,
        deadline_seconds: float = 600.0,
        max_redirects: int = 5,
    ) -> None:
        """Stream ``url`` to ``path`` (at most ``max_download_bytes``, within ``deadline_seconds``, stopping
        when ``cancel`` is set). The auth headers go only to the provider's own origin, redirects
        included: a CDN never sees the key."""
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + deadline_seconds
        for _ in range(max_redirects + 1):
            self._check_url(url)
            try:
                with self.client.stream("GET", url, headers=self._headers_for(url)) as stream:
                    if stream.is_redirect and "location" in stream.headers:
                        url = str(stream.url.join(stream.headers["location"]))
                        continue
                    if stream.status_code >= 400:  # its body is not read: it could be anything
                        raise TransientError(
                            f"{self.name}: downloading the result failed (HTTP {stream.status_code})",
                            code="provider_unavailable",
                        )
                    self._write(stream, path, cancel, deadline)
                    return
            except httpx.HTTPError as exc:
                raise TransientError(
                    f"{self.name}: downloading the result failed ({type(exc).__name__})",
                    code="provider_unreachable",
                ) from None
        raise TransientError(f"{self.name}: the result URL redirects too often", code="provider_unavailable")

    def _write(self, stream: httpx.Response, path: Path, cancel: CancelEvent, deadline: float) -> None:
        written = 0
        with path.open("wb") as out:
            for chunk in _decoded(stream):
                if cancel.is_set():
                    raise Cancelled("the download was cancelled")
                if time.monotonic() > deadline:
                    raise TransientError(f"{self.name}: the download took too long", code="provider_timeout")
                written += len(chunk)
                if written > self.max_download_bytes:
                    raise PermanentError(
                        f"{self.name}: the result is over {self.max_download_bytes} bytes",
                        code="corrupt_output",
                    )
                out.write(chunk)

    def _check_url(self, url: str) -> None:
        """A URL the provider handed us (a result, a status or cancel URL) off its own origin must pass
        the gateway's address rules: a provider's answer must not make the gateway reach its own network."""
        try:
            scheme = urlsplit(url).scheme
            _origin(url)
        except ValueError:
            raise PermanentError(
                f"{self.name}: a URL that does not parse", code="provider_bad_response"
            ) from None
        if scheme not in ("http", "https"):
            raise PermanentError(
                f"{self.name}: the result URL is not http(s)", code="provider_result_refused"
            )
        if self._url_check is None or _origin(url) == self._origin:
            return
        reason = self._url_check(url)
        if reason is not None:
            raise PermanentError(
                f"{self.name}: the result URL is refused: {reason}", code="provider_result_refused"
            )

    def _headers_for(self, url: str) -> dict[str, str]:
        return dict(self._auth) if _origin(url) == self._origin else {}


def _read_capped(response: httpx.Response, limit: int) -> bytes:
    chunks, size = [], 0
    for chunk in _decoded(response, limit):
        size += len(chunk)
        if size > limit:
            raise ValueError(f"an answer over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _decoded(response: httpx.Response, step: int = 1 << 20) -> Iterator[bytes]:
    """The body, decoded here rather than by httpx, in pieces of at most ``step`` bytes: a small
    compressed answer must not expand in one go (a gzip bomb). Requests ask for ``identity``; one gzip
    or deflate layer is still read, stacked or other encodings are refused."""
    if response.is_stream_consumed:  # an answer built in memory (a mock transport): already whole
        yield response.content
        return
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        yield from response.iter_raw()
        return
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise ValueError(f"an answer in an unsupported content-encoding: {encoding!r}")
    inflate = zlib.decompressobj(47)  # gzip or zlib header, detected
    for raw in response.iter_raw():
        data = inflate.decompress(raw, step)
        while data:
            yield data
            data = inflate.decompress(inflate.unconsumed_tail, step)


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port); ``ValueError`` for a URL that does not parse (a port out of range...)."""
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port
