"""``framegate generate``: a client of a running gateway, with a progress bar fed by the video's
event stream (server-sent events), falling back to polling."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


def _fail(response: httpx.Response) -> None:
    try:
        error = response.json()["error"]
        message = f"{error['code']}: {error['message']}"
    except Exception:
        message = response.text[:300]
    typer.echo(f"error {response.status_code}: {message}", err=True)
    raise typer.Exit(1)


def generate(
    prompt: str = typer.Argument(..., help="what the shot shows"),
    model: str | None = typer.Option(None, help="model id (default: the cheapest that fits)"),
    image: Path | None = typer.Option(None, exists=True, dir_okay=False, help="first frame (image-to-video)"),
    seconds: float | None = typer.Option(None, help="clip length"),
    size: str | None = typer.Option(None, help="WIDTHxHEIGHT"),
    seed: int | None = typer.Option(None),
    steps: int | None = typer.Option(None),
    out: Path = typer.Option(Path("clip.mp4"), help="where to write the MP4"),
    url: str | None = typer.Option(
        None,
        envvar="FRAMEGATE_URL",
        help="gateway URL (default: FRAMEGATE_HOST and FRAMEGATE_PORT, as serve uses)",
    ),
    api_key: str = typer.Option(..., envvar="FRAMEGATE_API_KEY", help="API key"),
) -> None:
    """Generate a clip on a running gateway and save it."""
    fields: dict[str, str] = {"prompt": prompt}
    for name, value in (
        ("model", model),
        ("seconds", seconds),
        ("size", size),
        ("seed", seed),
        ("steps", steps),
    ):
        if value is not None:
            fields[name] = str(value)
    files = {"input_reference": (image.name, image.read_bytes())} if image else None
    headers = {"Authorization": f"Bearer {api_key}"}
    if url is None:  # the gateway `framegate serve` starts with the same environment
        from gateway.cli.environment import settings_from_env

        settings = settings_from_env()
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        url = f"http://{host}:{settings.port}"
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60) as client:
        try:
            response = client.post("/v1/videos", data=fields, files=files)
        except httpx.HTTPError as exc:
            typer.echo(f"cannot reach the gateway at {url}: {exc}", err=True)
            raise typer.Exit(1) from None
        if response.status_code >= 400:
            _fail(response)
        video = response.json()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
        ) as bar:
            task = bar.add_task(f"{video['id']} on {video['model']}", total=100)
            video = _follow(client, video, lambda v: bar.update(task, completed=v["progress"]))
            while video["status"] in ("queued", "in_progress"):  # the stream broke off: poll the rest
                wait = int(response.headers.get("openai-poll-after-ms", "500")) / 1000
                time.sleep(wait)
                response = client.get(f"/v1/videos/{video['id']}")
                if response.status_code >= 400:
                    _fail(response)
                video = response.json()
                bar.update(task, completed=video["progress"])
        if video["status"] != "completed":
            error = video.get("error") or {}
            typer.echo(f"{video['id']} failed: {error.get('code')}: {error.get('message')}", err=True)
            raise typer.Exit(1)
        content = client.get(f"/v1/videos/{video['id']}/content")
        if content.status_code >= 400:
            _fail(content)
        out.write_bytes(content.content)
    _report(out, video)


def _report(out: Path, video: dict[str, Any]) -> None:
    """What was written, what it cost, and whether its first take was re-rendered or refunded."""
    typer.echo(
        f"wrote {out} ({video['frames']} frames at {video['fps']} fps, {video['size']}, "
        f"cost {video['cost']:.3f} credits, seed {video['seed']})"
    )
    billing = video.get("billing") or {}
    if billing.get("rerendered"):
        defects = ", ".join(str(code) for code in billing.get("first_defects") or []) or "a hard defect"
        typer.echo(
            f"the first take (seed {billing.get('first_seed')}) had {defects}: it was re-rendered free "
            f"with seed {video['seed']}"
        )
    if billing.get("refunded"):
        typer.echo(
            f"refunded {billing['refunded']:g} credits: {billing.get('message') or billing.get('reason')}"
        )


def _follow(
    client: httpx.Client, video: dict[str, Any], show: Callable[[dict[str, Any]], object]
) -> dict[str, Any]:
    """Follow the job on its event stream (``GET /v1/videos/{id}/events``) until it ends or the
    stream breaks off; the video as last seen."""
    try:
        with client.stream("GET", f"/v1/videos/{video['id']}/events", timeout=None) as stream:
            if stream.status_code != 200:
                return video
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    video = json.loads(line[6:])
                    show(video)
    except httpx.HTTPError:
        pass
    return video
