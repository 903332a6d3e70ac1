"""Legacy import throughput: the fixture checkpoint repeated N times in the published layout.

    .venv/bin/python -m bench.bench_import [--copies 50] [--repeats 3]

Builds ``TrainedModels_1_clean/<id_k>/{Gs,Zs,reals,NoiseAmp}.pth`` (hard links to the fixture files when the
file system allows, else copies) plus ``real_images/<id_k>.jpg`` and ``real_masks/<id_k>.png`` in a temporary
folder, then times :func:`singanseg_core.legacy.import_legacy` into a fresh destination (models/s), and the
restricted read alone (no writing). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image


from singanseg_core.legacy.importer import LEGACY_FILES, import_legacy, read_legacy_checkpoint  # noqa: E402

from testkit.shared_data import FIXTURE_A as FIXTURE, LEGACY_MODEL_DIR as MODEL_DIR  # noqa: E402


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def build_tree(root: Path, copies: int) -> None:
    rgba = Image.open(FIXTURE / "Input" / "coffee.png")
    (root / "real_images").mkdir(parents=True)
    (root / "real_masks").mkdir()
    rgba.convert("RGB").save(root / "real_images" / "model_0.jpg", quality=95)
    rgba.getchannel("A").save(root / "real_masks" / "model_0.png")
    for k in range(copies):
        d = root / "TrainedModels_1_clean" / f"model_{k}"
        d.mkdir(parents=True)
        for name in LEGACY_FILES:
            _link_or_copy(MODEL_DIR / name, d / name)
        if k:
            _link_or_copy(root / "real_images" / "model_0.jpg", root / "real_images" / f"model_{k}.jpg")
            _link_or_copy(root / "real_masks" / "model_0.png", root / "real_masks" / f"model_{k}.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        src = Path(tmp) / "published"
        build_tree(src, args.copies)
        import_times, read_times = [], []
        for r in range(args.repeats):
            dest = Path(tmp) / f"models_{r}"
            t0 = time.perf_counter()
            summary = import_legacy(src, dest)
            import_times.append(time.perf_counter() - t0)
            assert len(summary.imported) == args.copies and not summary.refused, summary.lines()
            t0 = time.perf_counter()
            for d in sorted((src / "TrainedModels_1_clean").iterdir()):
                read_legacy_checkpoint(d)
            read_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            skipped = import_legacy(src, dest)
            skip_time = time.perf_counter() - t0
            assert len(skipped.skipped) == args.copies
            shutil.rmtree(dest)
        size = sum((MODEL_DIR / n).stat().st_size for n in LEGACY_FILES)
    best, med = min(import_times), statistics.median(import_times)
    print(json.dumps({
        "copies": args.copies, "repeats": args.repeats, "legacy_bytes_per_model": size,
        "import_s": [round(t, 3) for t in import_times],
        "import_models_per_s_best": round(args.copies / best, 2),
        "import_models_per_s_median": round(args.copies / med, 2),
        "read_only_models_per_s_median": round(args.copies / statistics.median(read_times), 2),
        "rerun_all_skipped_s": round(skip_time, 3),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "load_avg_1min": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
