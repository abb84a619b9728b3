"""A client that hangs up while its body is being sent: a quiet 499, never a logged error or a 400."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from ..support import live_server, make_settings


@pytest.mark.parametrize(
    ("path", "content_type", "start"),
    [
        ("/v1/videos", "application/json", b'{"prompt": "a red'),
        (
            "/v1/videos/edits",
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="prompt"\r\n\r\na red',
        ),
    ],
)
def test_a_client_that_hangs_up_mid_body_is_a_499_not_an_error(
    tmp_path: Path,
    models_dir: Path,
    caplog: pytest.LogCaptureFixture,
    path: str,
    content_type: str,
    start: bytes,
) -> None:
    import socket
    from urllib.parse import urlsplit

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", models_dir)
    with live_server(settings) as (url, app):
        import billing
        from gateway.engine.keys import create_key

        with app.state.fg.db.write() as conn:
            key = create_key(conn, billing.ensure_account(conn, "hangs-up")).secret
        where = urlsplit(url)
        with socket.create_connection((where.hostname, where.port)) as sock:
            head = (
                f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: 5000\r\n\r\n"
            )
            sock.sendall(head.encode() + start)  # and then nothing more
            time.sleep(0.3)
        deadline = time.monotonic() + 10
        metrics = ""
        while time.monotonic() < deadline and 'status="499"' not in metrics:
            time.sleep(0.1)
            metrics = httpx.get(f"{url}/metrics").text
        mine = [line for line in metrics.splitlines() if f'route="{path}"' in line and "_count" in line]
        assert any('status="499"' in line for line in mine), mine
        assert not any('status="500"' in line or 'status="400"' in line for line in mine), mine
        assert "unhandled error" not in caplog.text
        assert httpx.get(f"{url}/healthz").status_code == 200
