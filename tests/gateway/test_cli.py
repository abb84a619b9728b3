"""The ``framegate`` command as a user runs it: keys, credits, models, generate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app
from local_models.video import read_frames

from ..support import live_server, make_settings


@pytest.fixture
def env(tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("FRAMEGATE_DATA_DIR", str(data))
    monkeypatch.setenv("FRAMEGATE_MODELS_DIR", str(models_dir))
    return data


def test_keys_and_credits(env: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--account", "demo", "--credits", "1000"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    assert re.fullmatch(r"fg-[A-Za-z0-9_-]{40,}", key)
    assert (env / "framegate.db").is_file()

    listed = runner.invoke(app, ["keys", "list", "--account", "demo"])
    assert listed.exit_code == 0 and key[:10] in listed.stdout and key not in listed.stdout
    key_id = re.search(r"key_[0-9a-f]+", listed.stdout).group(0)  # type: ignore[union-attr]

    granted = runner.invoke(app, ["credits", "grant", "--account", "demo", "--amount", "250"])
    assert granted.exit_code == 0 and "balance 1250" in granted.stdout
    unknown = runner.invoke(app, ["credits", "grant", "--account", "nobody", "--amount", "5"])
    assert unknown.exit_code == 1

    revoked = runner.invoke(app, ["keys", "revoke", key_id])
    assert revoked.exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 1


def test_models_lists_shipped_models(env: Path) -> None:
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0 and "wan-tiny" in result.stdout and "4k+1" in result.stdout


def test_generate_against_a_running_gateway(env: Path, tmp_path: Path, models_dir: Path) -> None:
    runner = CliRunner()
    key = runner.invoke(app, ["keys", "create", "--account", "cli", "--credits", "10"]).stdout.split()[0]
    settings = make_settings(tmp_path, f"sqlite:///{env / 'framegate.db'}", models_dir, data_dir=env)
    with live_server(settings) as (url, _):
        out = tmp_path / "clip.mp4"
        result = runner.invoke(
            app,
            [
                "generate",
                "a green circle moving up",
                "--model",
                "wan-tiny",
                "--seed",
                "5",
                "--out",
                str(out),
                "--url",
                url,
                "--api-key",
                key,
            ],
        )
        assert result.exit_code == 0, result.output
        frames, _ = read_frames(out)
        assert frames.shape == (17, 64, 64, 3)
        failed = runner.invoke(app, ["generate", "x", "--model", "nope", "--url", url, "--api-key", key])
        assert failed.exit_code == 1 and "model_not_found" in failed.output


def test_generate_says_when_a_take_was_rerendered_and_refunded(
    env: Path, tmp_path: Path, models_dir: Path
) -> None:
    runner = CliRunner()
    key = runner.invoke(app, ["keys", "create", "--account", "qc", "--credits", "10"]).stdout.split()[0]
    settings = make_settings(tmp_path, f"sqlite:///{env / 'framegate.db'}", models_dir, data_dir=env)
    with live_server(settings) as (url, served):
        served.state.fg.adapters["fake"].behaviour.blank_tail = 0.5  # every take ends in black
        out = tmp_path / "clip.mp4"
        args = ["generate", "a red square slides right", "--model", "fake-video", "--seed", "7"]
        result = runner.invoke(app, [*args, "--out", str(out), "--url", url, "--api-key", key])
        assert result.exit_code == 0, result.output
        assert (
            "the first take (seed 7) had blank_frames: it was re-rendered free with seed 8" in result.output
        )
        assert "refunded" in result.output and out.stat().st_size > 0


def test_ledger_verify_and_budgets(env: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(
        app, ["keys", "create", "--account", "team", "--credits", "50", "--daily-budget", "5"]
    )
    assert created.exit_code == 0, created.output
    listed = runner.invoke(app, ["keys", "list", "--account", "team"])
    key_id = re.search(r"key_[0-9a-f]+", listed.stdout).group(0)  # type: ignore[union-attr]
    other = runner.invoke(app, ["keys", "create", "--account", "bystander", "--monthly-budget", "9"])
    assert other.exit_code == 0
    budget = runner.invoke(app, ["keys", "budget", key_id, "--monthly", "40", "--daily", "0"])
    assert budget.exit_code == 0 and "daily budget none, monthly budget 40" in budget.stdout
    daily_only = runner.invoke(app, ["keys", "budget", key_id, "--daily", "7"])  # the monthly cap stays
    assert daily_only.exit_code == 0 and "daily budget 7, monthly budget 40" in daily_only.stdout
    nobody = runner.invoke(app, ["keys", "budget", "key_0000000000000000", "--daily", "1"])
    assert nobody.exit_code == 1 and "no key" in nobody.output
    from gateway.engine.db import Database, api_keys

    db = Database(f"sqlite:///{env / 'framegate.db'}")
    with db.read() as conn:  # the other account's key kept its own caps
        caps = {(r.daily_budget_mc, r.monthly_budget_mc) for r in conn.execute(api_keys.select())}
    db.dispose()
    assert caps == {(7000, 40000), (None, 9000)}
    ok = runner.invoke(app, ["ledger", "verify"])
    assert ok.exit_code == 0 and "ledger OK" in ok.stdout

    from sqlalchemy import update

    from billing.schema import accounts
    from gateway.engine.db import Database

    db = Database(f"sqlite:///{env / 'framegate.db'}")
    with db.write() as conn:  # corrupt a balance behind the ledger's back
        conn.execute(update(accounts).where(accounts.c.name == "team").values(balance_mc=1))
    db.dispose()
    broken = runner.invoke(app, ["ledger", "verify"])
    assert broken.exit_code == 1 and "BROKEN" in broken.output


def test_models_add_registers_a_local_folder(env: Path, tmp_path: Path, models_dir: Path) -> None:
    from local_models import BUILTIN_ENTRIES, materialize

    wan = materialize(next(e for e in BUILTIN_ENTRIES if e.id == "wan-tiny"), models_dir)
    runner = CliRunner()
    added = runner.invoke(app, ["models", "add", "--path", str(wan), "--id", "my-wan"])
    assert added.exit_code == 0, added.output
    assert "registered my-wan (wan, t2v, frames 4k+1" in added.stdout
    listed = runner.invoke(app, ["models"])
    assert "my-wan" in listed.stdout
    (tmp_path / "empty").mkdir()
    assert runner.invoke(app, ["models", "add", "--path", str(tmp_path / "empty")]).exit_code == 1
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "model_index.json").write_text('{"_class_name": "MysteryPipeline"}')
    refused = runner.invoke(app, ["models", "add", "--path", str(tmp_path / "other")])
    assert refused.exit_code == 1 and "MysteryPipeline" in refused.output
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model_index.json").write_text(
        '{"_class_name": "WanPipeline", "vae": ["diffusers", "X"]}'
    )
    incomplete = runner.invoke(app, ["models", "add", "--path", str(tmp_path / "half")])
    assert incomplete.exit_code == 1 and "missing vae" in incomplete.output


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            '[[models]]\nid = "w"\nfamily = "nope"\nweights = "builtin:wan-tiny"\n',
            "unknown model family 'nope'",
        ),
        (
            '[[models]]\nid = "w"\nfamily = "wan"\nweights = "builtin:wan-tiny"\n'
            'options = { cache = "warp" }\n',
            "model 'w': model options: cache",
        ),
        ('[backends.x]\ntype = "nope"\n', "backend 'x': unknown adapter type 'nope'"),
    ],
)
def test_serve_refuses_a_bad_config_in_one_line(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str, message: str
) -> None:
    path = tmp_path / "framegate.toml"
    path.write_text(config)
    monkeypatch.setenv("FRAMEGATE_CONFIG", str(path))
    result = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert result.stderr.startswith("framegate: config: ") and message in result.stderr


def test_a_key_revoked_with_the_cli_is_refused_by_a_running_gateway_at_once(
    env: Path, tmp_path: Path, models_dir: Path
) -> None:
    """`framegate keys revoke` in another process, while the gateway serves the key from its cache:
    the very next request with it is refused."""
    import os
    import subprocess
    import sys

    import httpx

    runner = CliRunner()
    key = runner.invoke(app, ["keys", "create", "--account", "ops", "--credits", "10"]).stdout.split()[0]
    other = runner.invoke(app, ["keys", "create", "--account", "ops"]).stdout.split()[0]
    listed = runner.invoke(app, ["keys", "list", "--account", "ops"]).stdout
    key_id = next(line.split()[0] for line in listed.splitlines() if key[:10] in line)
    settings = make_settings(tmp_path, f"sqlite:///{env / 'framegate.db'}", models_dir, data_dir=env)
    with live_server(settings) as (url, _), httpx.Client(base_url=url) as client:
        for _ in range(3):  # warm: served from the key cache after the first
            assert client.get("/v1/videos", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        cli = subprocess.run(
            [sys.executable, "-m", "gateway.cli.main", "keys", "revoke", key_id],
            env={**os.environ, "FRAMEGATE_DATA_DIR": str(env)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert cli.returncode == 0, cli.stderr
        refused = client.get("/v1/videos", headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
        assert client.get("/v1/videos", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_providers_lists_hosted_backends_without_their_keys(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "no hosted providers" in CliRunner().invoke(app, ["providers"]).stdout
    config = tmp_path / "hosted.toml"
    config.write_text(
        '[backends.fal]\ntype = "fal"\napi_key_env = "FAL_KEY"\n\n[[backends.fal.models]]\nid = "kling-2"\n'
        'target = "fal-ai/kling-video/v2/master/text-to-video"\nsizes = ["1280x720"]\nseconds = [5, 10]\n'
        "price = { per_clip = 50 }\n"
    )
    monkeypatch.setenv("FRAMEGATE_CONFIG", str(config))
    monkeypatch.setenv("FAL_KEY", "fal-secret-value-123")
    result = CliRunner().invoke(app, ["providers"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "fal  (fal, https://queue.fal.run, 4 at once)" in out and "no finished jobs yet" in out
    assert "kling-2" in out and "fal-ai/kling-video/v2/master/text-to-video" in out and "5,10s" in out
    assert "+50/clip" in out and "fal-secret-value-123" not in out


@pytest.mark.parametrize(
    ("name", "value"), [("WORKER_NICE", "20"), ("WORKER_NICE", "abc"), ("WORKERS", "-1")]
)
@pytest.mark.parametrize("command", [["serve"], ["keys", "list"]])
def test_a_bad_setting_is_named_in_one_line(
    env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, command: list[str]
) -> None:
    monkeypatch.setenv(f"FRAMEGATE_{name}", value)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    assert f"FRAMEGATE_{name}:" in result.output and repr(value) in result.output
    assert "Traceback" not in result.output
