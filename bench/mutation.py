"""Mutation testing for the modules where a silent bug costs money or trust: plant small bugs (mutmut's
mutants: flipped comparisons, changed constants, dropped calls...) one at a time and run the tests that
should notice; print, per module, how many mutants the tests killed and which survived.

    python bench/mutation.py                 # every target (slow: tens of minutes on 2 cores)
    python bench/mutation.py billing qc      # targets whose name contains one of the words
    python bench/mutation.py --list          # the targets, their modules and their tests

Each target runs in a scratch copy of the repository (mutmut writes a ``mutants/`` tree and a cache), so
the working tree is never touched. Not part of ``.ci/run``: it is slow by nature.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["gateway", "adapters", "local_models", "router", "billing"]


@dataclass(frozen=True)
class Target:
    name: str
    modules: tuple[str, ...]
    tests: tuple[str, ...]


TARGETS = [
    Target("billing.budgets", ("billing/budgets.py",), ("tests/billing/",)),
    Target("billing.pricing", ("billing/pricing.py",), ("tests/billing/", "tests/router/")),
    Target(
        "gateway.engine.keys",
        ("gateway/engine/keys.py",),
        ("tests/gateway/test_auth.py", "tests/gateway/test_cli.py"),
    ),
    Target(
        "gateway.engine.idempotency",
        ("gateway/engine/idempotency.py",),
        ("tests/gateway/test_idempotency.py",),
    ),
    Target("router.policy", ("router/policy.py",), ("tests/router/",)),
    Target("router.dispatch", ("router/dispatch.py",), ("tests/router/test_dispatch.py",)),
    Target(
        "local_models.qc",
        ("local_models/qc.py",),
        ("tests/local_models/test_qc.py", "tests/local_models/test_qc_report.py"),
    ),
    Target(
        "local_models.residency", ("local_models/residency.py",), ("tests/local_models/test_residency.py",)
    ),
    Target(
        "adapters.local (device lock)",
        ("adapters/local.py",),
        ("tests/adapters/test_local.py", "tests/adapters/test_local_artifacts.py"),
    ),
    Target("billing.ledger", ("billing/ledger.py",), ("tests/billing/",)),
    Target(
        "billing.settlement",
        ("billing/settlement.py",),
        ("tests/billing/", "tests/gateway/test_credits_api.py"),
    ),
]


def _scratch_copy(into: Path) -> None:
    """The tracked and untracked-but-not-ignored files: what a clean clone plus local edits holds."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for rel in listed:
        source = ROOT / rel
        if source.is_file():
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / rel)


def _configure(workdir: Path, target: Target) -> None:
    pyproject = workdir / "pyproject.toml"
    text = re.sub(r"(?ms)^\[tool\.mutmut\].*?(?=^\[|\Z)", "", pyproject.read_text())
    tests = [t for t in target.tests if (workdir / t).exists()]
    quoted = lambda items: "[" + ", ".join(f'"{i}"' for i in items) + "]"  # noqa: E731
    text += (
        "\n[tool.mutmut]\n"
        f"source_paths = {quoted(PACKAGES)}\n"
        f"only_mutate = {quoted(target.modules)}\n"
        f"pytest_add_cli_args_test_selection = {quoted(tests)}\n"
        'pytest_add_cli_args = ["-x", "-q", "-p", "no:cacheprovider", "-m", "not cuda"]\n'
        'also_copy = ["README.md", "docs/"]\n'
        'process_isolation = "forkserver"\n'
        "mutate_only_covered_lines = true\n"
    )
    pyproject.write_text(text)


def _results(workdir: Path) -> dict[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    by_status: dict[str, list[str]] = {}
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            by_status.setdefault(status.strip(), []).append(name.strip())
    return by_status


def _diffs(workdir: Path, names: list[str]) -> dict[str, str]:
    shown = {}
    for name in names:
        out = subprocess.run(
            [sys.executable, "-m", "mutmut", "show", name],
            cwd=workdir,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        shown[name] = "\n".join(line for line in out.splitlines() if line.startswith(("+", "-")))
    return shown


def run_target(
    target: Target, max_children: int
) -> tuple[Target, dict[str, list[str]], dict[str, str], float]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="framegate-mutmut-") as tmp:
        workdir = Path(tmp)
        _scratch_copy(workdir)
        _configure(workdir, target)
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": str(workdir),
            "FRAMEGATE_HYPOTHESIS_EXAMPLES": "12",  # the ledger's state machine, once per mutant
            "FRAMEGATE_NO_FAST_EXIT": "1",  # tests/conftest.py: no os._exit inside mutmut's workers
        }
        subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children)],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        results = _results(workdir)
        diffs = _diffs(workdir, results.get("survived", []))
    return target, results, diffs, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("only", nargs="*", help="run targets whose name contains one of these words")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--max-children", type=int, default=max(1, (os.cpu_count() or 2)))
    args = parser.parse_args()
    chosen = [t for t in TARGETS if not args.only or any(w in t.name for w in args.only)]
    if args.list:
        for t in chosen:
            print(f"{t.name:<30} {', '.join(t.modules):<28} {', '.join(t.tests)}")
        return
    rows = []
    shown: dict[str, str] = {}
    for target in chosen:
        target, results, diffs, seconds = run_target(target, args.max_children)
        shown.update(diffs)
        killed = len(results.get("killed", [])) + len(results.get("timeout", []))
        survived = results.get("survived", [])
        other = {k: len(v) for k, v in results.items() if k not in ("killed", "timeout", "survived")}
        total = killed + len(survived)
        rows.append((target.name, total, killed, survived, other, seconds))
        print(f"# {target.name}: {killed}/{total} killed in {seconds:.0f} s", flush=True)
        for mutant in survived:  # as each target ends: a long run is useful before it finishes
            print(f"#   survived: {mutant}\n{diffs.get(mutant, '')}", flush=True)
    print()
    print(f"| {'module':<30} | mutants | killed | survived | killed % | other |")
    print(f"|{'-' * 32}|--------:|-------:|---------:|---------:|-------|")
    for name, total, killed, survived, other, _ in rows:
        share = f"{100 * killed / total:.1f}" if total else "-"
        extra = ", ".join(f"{k} {v}" for k, v in other.items()) or ""
        print(f"| {name:<30} | {total:>7} | {killed:>6} | {len(survived):>8} | {share:>8} | {extra} |")
    print()
    for name, _, _, survived, _, _ in rows:
        for mutant in survived:
            print(f"survived in {name}: {mutant}\n{shown.get(mutant, '')}\n")


if __name__ == "__main__":
    main()
