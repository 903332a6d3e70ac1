#!/usr/bin/env bash
# Every GPU-capable benchmark, one after another, on one CUDA GPU, in under 10 minutes (sized for one H200).
#
#   bash bench/gpu_suite.sh                 # from the repository root; results go into bench/RESULTS.md
#   PYTHON=.venv/bin/python DEVICE=cuda:1 bash bench/gpu_suite.sh
#
# Each benchmark runs under its own time limit (the sum is 9.5 minutes, plus at most 2 for a failed install), so a
# slow one is cut off and reported while the rest still run; the exit status is 1 if any failed or was cut off.
# The benchmarks that compare with the original code (engine, style transfer) need `singan-seg-polyp==1.0.7`
# importable; when it is not and cannot be installed (a machine without network), they are skipped with a note. The original always runs on the CPU, as
# the issue measured it; ours runs on the GPU. The shared data (../shared/data/polyps) must be next to the repo.
set -u
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"; elif [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
DEV="${DEVICE:-cuda}"
export PYTHONWARNINGS=ignore PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_suite: $PY has no torch, or torch sees no CUDA GPU (set PYTHON=... to another interpreter)" >&2
    exit 2
fi
"$PY" -c "import torch; print('torch', torch.__version__, '|', torch.cuda.get_device_name(0), '|',
    torch.cuda.device_count(), 'GPU(s)')"

have_original() {
    "$PY" -c "import singan_seg_polyp" 2>/dev/null && return 0
    local pip=(timeout 60 "$PY" -m pip install --quiet --retries 0 --timeout 5)
    "${pip[@]}" --no-deps singan-seg-polyp==1.0.7 >/dev/null 2>&1 \
        && "${pip[@]}" matplotlib scikit-learn natsort pyyaml >/dev/null 2>&1 \
        && "$PY" -c "import singan_seg_polyp" 2>/dev/null
}

FAILED=()
run() {  # run NAME SECONDS ARGS...: one benchmark under a time limit
    local name="$1" limit="$2"
    shift 2
    echo "== [$name] $* (limit ${limit} s)"
    local t0=$SECONDS
    timeout --kill-after=10 "$limit" "$PY" "$@"
    local rc=$?
    echo "== [$name] exit $rc after $((SECONDS - t0)) s"
    [ "$rc" -eq 0 ] || FAILED+=("$name(exit $rc)")
}

START=$SECONDS
# faster paths: every option vs fp32 on the GPU (fp16 + grad scaler, bf16, compile, concurrent); ~3-4 min
run fast_paths 240 -m bench.bench_fast_paths --device "$DEV" --max-size 128 --iters 40 --samples 512 \
    --variant-timeout 90
# K models stacked in one computation (training throughput per model); ~1 min
run batched 90 -m bench.bench_batched --device "$DEV" --max-size 128 --ks 1,4,16,64 --window 10
if have_original; then
    # ours on the GPU vs the original on the CPU (its training at 64 px, 20 it/scale, takes ~1 min)
    run engine 90 -m bench.bench_engine --device "$DEV" --sizes 64 --iters 20 --samples 100 --threads 8
    run style_transfer 90 -m bench.bench_style_transfer --device "$DEV" --quick --threads 8
else
    echo "== [engine, style_transfer] skipped: singan-seg-polyp==1.0.7 is not importable and could not be installed"
fi
# time to a model: the presets at 64 and 128 px on the three small-object polyps, the original beside paper; ~2 min
if have_original; then ORIG=--original; else ORIG=; fi
run time_to_model 150 -m bench.bench_time_to_model --device "$DEV" --variants live quick paper --sizes 64 128 \
    --threads 8 $ORIG
if [ -f bench/bench_fidelity.py ]; then
    run fidelity 60 -m bench.bench_fidelity --device "$DEV" --quick
fi

echo "== gpu_suite: $((SECONDS - START)) s in all"
if [ "${#FAILED[@]}" -gt 0 ]; then
    echo "== failed or cut off: ${FAILED[*]}" >&2
    exit 1
fi
