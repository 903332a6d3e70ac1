"""Every benchmark answers ``python -m bench.NAME --help`` (run as a subprocess: tests never import bench code)."""

from __future__ import annotations

import pytest

import os
import subprocess
import sys

from tests.helpers import REPO_ROOT

BENCHMARKS = sorted(p.stem for p in (REPO_ROOT / "bench").glob("bench_*.py")) + ["run_all"]


def test_every_benchmark_module_is_listed() -> None:
    assert len(BENCHMARKS) >= 10 and "bench_fidelity" in BENCHMARKS  # the glob sees the bench folder


@pytest.mark.slow
def test_every_benchmark_answers_help() -> None:
    """All at once (each imports torch: side by side they share the cores instead of waiting in turn)."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONWARNINGS="ignore")
    procs = {name: subprocess.Popen([sys.executable, "-m", f"bench.{name}", "--help"], cwd=REPO_ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in BENCHMARKS}
    broken = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        if proc.returncode != 0 or not out.startswith("usage:") or "--help" not in out:
            broken[name] = f"exit {proc.returncode}: {err[-500:]}"
    assert not broken, broken


def test_run_all_runs_each_benchmark_by_its_module_name() -> None:
    """``run_all``'s names are the modules' names without ``bench_``: an unknown one is refused, exit 2."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run([sys.executable, "-m", "bench.run_all", "no_such_bench"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "unknown benchmark(s) no_such_bench" in done.stderr
    listed = done.stderr.split("choose from ", 1)[1].strip().split(", ")
    assert sorted(f"bench_{n}" for n in listed) == [b for b in BENCHMARKS if b != "run_all"]
