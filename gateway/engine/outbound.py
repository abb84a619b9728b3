"""Requests the gateway makes to addresses its users name (webhook targets, image URLs), made safe.

A URL must be ``https`` (``http`` only if the operator allows it) and every address its host resolves
to must be public, unless the operator lists its network in ``allow_networks`` (tests allow loopback).
The check runs when the URL is accepted and again at connect time, on the address actually dialled,
so a name that re-resolves to a private address afterwards (DNS rebinding) is still refused. Redirects
are never followed; every request has a timeout.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

from gateway.engine.errors import InvalidRequest

__all__ = ["AddressPolicy", "fetch_bytes", "guarded_client"]

MAX_URL_CHARS = 2048
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class AddressPolicy:
    """Which outbound URLs are allowed: scheme and destination networks."""

    allow_http: bool = False
    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(default=())

    @classmethod
    def of(cls, allow_http: bool, networks: Iterable[str]) -> AddressPolicy:
        return cls(allow_http, tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def allows(self, address: Address) -> bool:
        """Allowed networks first; else public unicast, judged also by any IPv4 address an IPv6 one
        carries (mapped, IPv4-compatible, NAT64, 6to4, Teredo), which is where it may really go."""
        if any(address in network for network in self.allow_networks):
            return True
        if not address.is_global or address.is_multicast:
            return False
        if isinstance(address, ipaddress.IPv6Address):
            return all(self.allows(inner) for inner in _embedded_ipv4(address))
        return True

    def check_url(self, url: str, *, param: str) -> str:
        """``url`` if its form is acceptable (scheme, host, length); raises ``InvalidRequest``.
        Does not resolve: :meth:`check_host` does (it blocks, so call it off the event loop)."""
        if len(url) > MAX_URL_CHARS:
            raise InvalidRequest(
                f"{param} is over {MAX_URL_CHARS} characters", code="invalid_url", param=param
            )
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise InvalidRequest(f"{param} is not a valid URL", code="invalid_url", param=param) from None
        if not parts.scheme or "://" not in url:
            raise InvalidRequest(f"{param} is not a valid URL", code="invalid_url", param=param)
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes:
            raise InvalidRequest(
                f"{param} must be an {' or '.join(schemes)} URL", code="insecure_url", param=param
            )
        if not parts.hostname or parts.username is not None or parts.password is not None:
            raise InvalidRequest(
                f"{param} must name a host and carry no credentials", code="invalid_url", param=param
            )
        if port == 0 or any(c.isspace() for c in url):
            raise InvalidRequest(f"{param} is not a valid URL", code="invalid_url", param=param)
        return url

    def check_host(self, url: str, *, param: str) -> None:
        """Resolve the URL's host; every address must be allowed (``forbidden_address`` otherwise)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise InvalidRequest(
                f"{param}: the host {host!r} does not resolve", code="unresolvable_host", param=param
            ) from None
        refused = self._refused(str(info[4][0]) for info in infos)
        if refused:
            raise InvalidRequest(
                f"{param}: {host!r} resolves to {refused}, a private, loopback or reserved address",
                code="forbidden_address",
                param=param,
            )

    async def accept(self, url: str, *, param: str) -> str:
        """``url`` if its form and every address its host resolves to are allowed (the resolution
        runs on a worker thread); raises ``InvalidRequest`` naming ``param`` otherwise."""
        self.check_url(url, param=param)
        await anyio.to_thread.run_sync(lambda: self.check_host(url, param=param))
        return url

    def _refused(self, addresses: Iterable[str]) -> str | None:
        for text in addresses:
            if not self.allows(ipaddress.ip_address(text.split("%", 1)[0])):
                return text
        return None


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _COMPATIBLE or any(address in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself and dials only an address the policy allows."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        addresses = [str(info[4][0]) for info in infos]
        refused = self._policy._refused(addresses)
        if refused or not addresses:
            raise httpcore.ConnectError(f"{host} resolves to a refused address ({refused})")
        # TLS still verifies and sends SNI for ``host``: httpcore takes those from the request's origin.
        return await self._inner.connect_tcp(
            addresses[0], port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not reachable from here")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: AddressPolicy, max_connections: int) -> None:
        super().__init__(limits=httpx.Limits(max_connections=max_connections))
        # httpx has no public hook for the network backend; the pool is rebuilt with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            network_backend=_GuardedBackend(policy),
        )


def guarded_client(policy: AddressPolicy, *, timeout: float, max_connections: int = 16) -> httpx.AsyncClient:
    """An HTTP client that dials only allowed addresses, follows no redirect and times out."""
    return httpx.AsyncClient(
        transport=_GuardedTransport(policy, max_connections),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers={"user-agent": "Framegate-Webhooks/1"},
        trust_env=False,
    )


async def fetch_bytes(
    policy: AddressPolicy, url: str, *, param: str, max_bytes: int, timeout: float
) -> bytes:
    """GET ``url`` under the address rules: at most ``max_bytes``, within ``timeout`` seconds overall,
    no redirect. Every way it can go wrong is an ``InvalidRequest`` naming ``param``."""
    await policy.accept(url, param=param)
    try:
        with anyio.fail_after(timeout):
            async with (
                guarded_client(policy, timeout=timeout, max_connections=1) as client,
                client.stream("GET", url) as response,
            ):
                if response.is_redirect:
                    raise InvalidRequest(
                        f"{param} redirects ({response.status_code}); redirects are not followed",
                        code="url_redirected",
                        param=param,
                    )
                if response.status_code != 200:
                    raise InvalidRequest(
                        f"{param} answered {response.status_code}", code="url_fetch_failed", param=param
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise _too_large(param, max_bytes)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise _too_large(param, max_bytes)
                    chunks.append(chunk)
                return b"".join(chunks)
    except TimeoutError:
        raise InvalidRequest(
            f"{param} did not answer within {timeout:g} s", code="url_timeout", param=param
        ) from None
    except httpx.HTTPError as exc:
        raise InvalidRequest(
            f"{param} could not be fetched: {type(exc).__name__}", code="url_fetch_failed", param=param
        ) from None


def _too_large(param: str, max_bytes: int) -> InvalidRequest:
    return InvalidRequest(f"{param} is larger than {max_bytes} bytes", code="url_too_large", param=param)
