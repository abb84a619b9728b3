"""A small keep-alive HTTP/1.1 load generator (one process, asyncio), so that benchmarks measure the
gateway rather than a heavyweight client."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import time
from dataclasses import dataclass


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


async def _client(
    host: str,
    port: int,
    request: bytes,
    until: float,
    out: list[float],
    errors: list[int],
    interval: float | None,
    offset: float,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    scheduled = time.perf_counter() + offset
    while time.perf_counter() < until:
        if interval is None:
            started = time.perf_counter()
        else:
            # Constant offered rate: latency counts from the scheduled send time, so a stalled
            # server cannot hide its queue (no coordinated omission).
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            started = scheduled
            scheduled += interval
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if length:
            await reader.readexactly(length)
        out.append(time.perf_counter() - started)
        if status >= 400:
            errors.append(status)
    writer.close()


async def _run(
    host: str, port: int, request: bytes | list[bytes], clients: int, seconds: float, rate: float | None
) -> LoadResult:
    requests = [request] if isinstance(request, bytes) else request
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    until = started + seconds
    interval = clients / rate if rate else None
    await asyncio.gather(
        *[
            _client(
                host,
                port,
                requests[i % len(requests)],
                until,
                latencies,
                errors,
                interval,
                (interval or 0) * i / clients,
            )
            for i in range(clients)
        ]
    )
    return LoadResult(len(latencies), len(errors), time.perf_counter() - started, latencies)


def _worker(
    host: str,
    port: int,
    request: bytes | list[bytes],
    clients: int,
    seconds: float,
    rate: float | None,
    queue: mp.Queue,
) -> None:
    result = asyncio.run(_run(host, port, request, clients, seconds, rate))
    queue.put((result.requests, result.errors, result.seconds, result.latencies))


def run_load(
    host: str,
    port: int,
    request: bytes | list[bytes],
    *,
    clients: int,
    seconds: float,
    rate: float | None = None,
) -> LoadResult:
    """Drive ``request`` (raw HTTP bytes; a list: client i sends item i mod len) from ``clients``
    keep-alive connections in another process.

    ``rate=None`` is a closed loop (each client sends as soon as its last answer arrives: the
    saturation throughput); a ``rate`` offers that many requests per second in total, spread
    evenly over the clients, and reports latency at that load.
    """
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_worker, args=(host, port, request, clients, seconds, rate, queue))
    proc.start()
    requests, errors, secs, latencies = queue.get(timeout=seconds + 120)
    proc.join()
    return LoadResult(requests, errors, secs, latencies)


def http_request(method: str, path: str, key: str, body: dict | None = None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {key}"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
