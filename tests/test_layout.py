"""The layout's rules, checked: imports flow one way, the vocabulary stays light, modules stay small."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gateway", "adapters", "local_models", "router", "billing")
WEB = (
    "gateway.api",
    "gateway.dashboard",
    "gateway.cli",
    "gateway.app",
    "gateway.errors",
    "gateway.metrics",
    "gateway.middleware",
    "gateway.ratelimit",
    "gateway.state",
)
RUNTIME = ("torch", "numpy", "PIL", "av", "imageio", "imageio_ffmpeg", "diffusers", "transformers", "cv2")
# Generated data, not logic: the initial migration writes out every table.
LONG_FUNCTIONS_ALLOWED = {("gateway/engine/db/migrations/versions/0001_initial_schema.py", "upgrade")}


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Absolute names ``path`` imports (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _offenders(folders: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for folder in folders:
        for path in _modules(folder):
            for name in _imports(path):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def test_the_engine_never_imports_the_web() -> None:
    assert _offenders(("gateway/engine", "gateway/creative"), WEB) == []
    # The creator's workflow is built on the engine, not the other way round.
    assert _offenders(("gateway/engine",), ("gateway.creative",)) == []


def test_lower_packages_never_import_the_gateway() -> None:
    assert _offenders(("router", "billing", "adapters", "local_models"), ("gateway",)) == []


def test_router_and_billing_import_nothing_of_the_model_runtime() -> None:
    assert _offenders(("router", "billing"), ("adapters",)) == []
    code = (
        "import sys, router, billing, local_models, local_models.spec, local_models.errors\n"
        f"print(sorted(m for m in {RUNTIME!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_and_functions_stay_small(package: str) -> None:
    too_long = []
    for path in _modules(package):
        rel = str(path.relative_to(ROOT))
        lines = path.read_text().splitlines()
        if len(lines) > 400:
            too_long.append(f"{rel}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 80 and (rel, node.name) not in LONG_FUNCTIONS_ALLOWED:
                    too_long.append(f"{rel}:{node.lineno} {node.name}(): {length} lines")
    assert too_long == []


def test_importing_the_engine_loads_no_web_layer() -> None:
    code = (
        "import sys, gateway.engine.jobs.service, gateway.engine.jobs.worker, gateway.engine.events\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette')"
        " or m.startswith(('gateway.api', 'gateway.dashboard', 'gateway.cli', 'gateway.app'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
