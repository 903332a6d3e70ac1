"""``make bench``: every benchmark once, one after another, each in its own process (``python -m bench.bench_NAME``;
its numbers go into ``bench/RESULTS.md``). Benchmarks that compare with the original code load it through
``bench._original`` (installed into a temporary folder outside the checkout if missing).

    python -m bench.run_all                    # all of them
    python -m bench.run_all engine style_transfer
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

# name -> arguments (defaults sized for the 2-core CI machine; see each module's docstring for more)
BENCHMARKS: dict[str, list[str]] = {
    "engine": ["--sizes", "64", "--iters", "20", "--samples", "100"],
    "style_transfer": ["--quick"],
    "batched": ["--ks", "1,4", "--window", "2"],
    "fast_paths": ["--max-size", "48", "--iters", "20", "--samples", "32", "--threads", "1"],
    "import": ["--copies", "20"],
    "patch_nn": [],
    "segmentation": [],
    "teaching": [],
    "dashboard": [],
    "reliability": [],
    "fidelity": [],   # ~30-40 min on 2 cores (cached under bench/out/fidelity: a rerun resumes); --quick ~2 min
    "quick_preset": [],   # ~20 min on 2 cores: the quick preset vs a candidate on 3 polyps (cached too)
    "guided": [],   # ~13 min on 2 cores: one 64 px quick model, agreement and realism per inject scale
    "time_to_model": [],  # ~15 min on 2 cores: live and quick at 64 and 128 px on 3 polyps (--smoke: ~30 s)
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    return ap


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    chosen = args.names or list(BENCHMARKS)
    unknown = [n for n in chosen if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        cmd = [sys.executable, "-m", f"bench.bench_{name}", *BENCHMARKS[name]]
        print(f"== {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd)
        print(f"== bench_{name}: exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
