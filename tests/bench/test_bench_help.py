"""Every benchmark answers ``python -m bench.NAME --help`` (run as a subprocess: tests never import bench code)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import REPO_ROOT

BENCHMARKS = sorted(p.stem for p in (REPO_ROOT / "bench").glob("bench_*.py")) + ["run_all"]


def test_every_benchmark_module_is_listed() -> None:
    assert len(BENCHMARKS) >= 10 and "bench_fidelity" in BENCHMARKS  # the glob sees the bench folder


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_answers_help(name: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-m", f"bench.{name}", "--help"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage:") and "--help" in done.stdout


def test_run_all_runs_each_benchmark_by_its_module_name() -> None:
    """``run_all``'s names are the modules' names without ``bench_``: an unknown one is refused, exit 2."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run([sys.executable, "-m", "bench.run_all", "no_such_bench"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "unknown benchmark(s) no_such_bench" in done.stderr
    listed = done.stderr.split("choose from ", 1)[1].strip().split(", ")
    assert sorted(f"bench_{n}" for n in listed) == [b for b in BENCHMARKS if b != "run_all"]
