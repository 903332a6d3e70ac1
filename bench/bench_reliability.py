"""Reliability: replay the hostile-input probes (hostile pickles, tampered configs, bad images and masks, kill -9
during training and sampling, a full disk, concurrent writers, a stuck job, a download without a size, a hostile
visitor of a classroom dashboard: ``--only classroom``) and print a table: probe, expected, observed, held?, peak
memory and time.

    .venv/bin/python -m bench.bench_reliability [--only WORD ...] [--no-write]

Every probe runs in a child process of its own (``--probe NAME``), so its peak memory is that child's
``ru_maxrss`` (torch and the engine imported: the ``baseline`` row is a child that only imports them) and a
probe that hangs is killed after :data:`PROBE_TIMEOUT_S` and counted as not held. The memory bound of an
adversarial file is :data:`EXTRA_MB_BOUND` above the baseline (the unpickler's caps allow at most ~300 MB:
``legacy.unpickler.MAX_STORAGE_BYTES`` + 4 B x ``MAX_ELEMENTS_PER_FILE`` + what a ``MAX_PICKLE_BYTES`` pickle
builds), its time bound :data:`TIME_BOUND_S`. The disk-full probes use a real tmpfs when this machine lets us
mount one (root), else a size-capped writer (``testkit.hostile.disk_budget``). The section goes into
``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

from bench._children import child_env
from testkit.shared_data import REPO_ROOT as ROOT

PROBE_TIMEOUT_S = 180.0
EXTRA_MB_BOUND = 512          # peak RSS above the import baseline an adversarial file may cost
TIME_BOUND_S = 60.0           # seconds an adversarial file may take to be refused (torch import included)
STEM = "cju5k3j3uf6de0817hszzfr7n"
INFLATED_ENV = "BENCH_RELIABILITY_INFLATED"

Probe = Callable[[Path], tuple[bool, str]]      # tmp folder -> (held, what was observed)
PROBES: dict[str, tuple[str, str, bool, Probe]] = {}   # name -> (group, expected, adversarial file?, probe)


def probe(name: str, group: str, expected: str, adversarial: bool = False) -> Callable[[Probe], Probe]:
    def register(fn: Probe) -> Probe:
        PROBES[name] = (group, expected, adversarial, fn)
        return fn

    return register


def _short(text: str, n: int = 110) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _cli(argv: list[str]) -> tuple[int, str]:
    """``singanseg ...`` in this process; (exit code, its stderr without progress bars)."""
    import contextlib
    import io

    from singanseg_core.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # noqa: PERF203
            code = int(exc.code or 0)
    lines = [ln for part in err.getvalue().split("\n") for ln in part.split("\r") if ln.strip() and "%|" not in ln]
    return code, "\n".join(lines)


def _one_line_refusal(code: int, err: str, words: str) -> tuple[bool, str]:
    lines = err.splitlines()
    ok = code == 1 and len(lines) == 1 and words in lines[0] and "Traceback" not in err
    return ok, f"exit {code}: {_short(lines[-1] if lines else '(nothing)')}" + ("" if len(lines) <= 1 else
                                                                              f" (+{len(lines) - 1} lines)")


# ---------------------------------------------------------------------------------------------- baseline
@probe("baseline", "-", "imports only (the memory baseline)")
def _baseline(tmp: Path) -> tuple[bool, str]:
    import singanseg_core.legacy.importer  # noqa: F401  (torch, numpy, PIL: what every probe imports)
    import testkit.hostile  # noqa: F401

    del singanseg_core, testkit

    return True, "torch + engine imported"


# ---------------------------------------------------------------------------------------------- hostile pickles
def _import_one(tmp: Path, replace: dict[str, bytes]) -> tuple[bool, str]:
    from singanseg_core.legacy.importer import import_legacy
    from testkit import hostile

    hostile.legacy_model(tmp / "src" / "m", replace)
    summary = import_legacy(tmp / "src", tmp / "out")
    refused = dict(summary.refused)
    ok = not summary.imported and "m" in refused and len(refused["m"]) < 400 and not (tmp / "out" / "m").exists()
    why = refused.get("m", "imported!").split(": ", 1)[-1].removeprefix("refused: ")
    return ok, "refused: " + _short(why, 90)


@probe("pickle: billion laughs (506 B Gs.pth)", "hostile pickles", "refused fast", True)
def _p_laughs(tmp: Path) -> tuple[bool, str]:
    from testkit import hostile

    return _import_one(tmp, {"Gs.pth": hostile.torch_zip(hostile.billion_laughs())})


@probe("pickle: billion laughs in NoiseAmp (rendered by errors)", "hostile pickles", "refused fast", True)
def _p_laughs_amp(tmp: Path) -> tuple[bool, str]:
    from testkit import hostile

    return _import_one(tmp, {"NoiseAmp.pth": hostile.torch_zip(hostile.noise_amps(hostile.laughs_body()))})


@probe("pickle: 200 000-deep nested list", "hostile pickles", "refused, no RecursionError", True)
def _p_deep(tmp: Path) -> tuple[bool, str]:
    from testkit import hostile

    return _import_one(tmp, {"NoiseAmp.pth": hostile.torch_zip(hostile.noise_amps(hostile.deep_list_body()))})


@probe("pickle: shared nested tuple as a dict key", "hostile pickles", "refused before hashing", True)
def _p_hash(tmp: Path) -> tuple[bool, str]:
    from testkit import hostile

    return _import_one(tmp, {"NoiseAmp.pth": hostile.torch_zip(hostile.noise_amps(hostile.hash_bomb_body()))})


@probe("pickle: 1 MB file declaring a 1 GiB storage", "hostile pickles", "refused before reading", True)
def _p_inflated(tmp: Path) -> tuple[bool, str]:
    from testkit import hostile

    cached = os.environ.get(INFLATED_ENV)  # built by the parent, so its 5 s of deflating are not timed here
    data = Path(cached).read_bytes() if cached else hostile.inflated_storage(1 << 30)
    return _import_one(tmp, {"Zs.pth": data})


@probe("pickle: stride-0 view of 16000x16000", "hostile pickles", "refused before allocating", True)
def _p_stride(tmp: Path) -> tuple[bool, str]:
    from testkit import hostile

    return _import_one(tmp, {"reals.pth": hostile.stride0_view(16_000)})


@probe("pickle: os.system payload", "hostile pickles", "refused, nothing runs", True)
def _p_code(tmp: Path) -> tuple[bool, str]:
    import io as _io

    import torch

    marker = tmp / "pwned"

    class RunsCode:
        def __reduce__(self):  # noqa: ANN204
            return (os.system, (f"touch '{marker}'",))

    buf = _io.BytesIO()
    torch.save([RunsCode()], buf)
    ok, seen = _import_one(tmp, {"Gs.pth": buf.getvalue()})
    return ok and not marker.exists(), seen + ("" if not marker.exists() else " AND THE CODE RAN")


@probe("pickle: batch of 1 good + 4 hostile models", "hostile pickles", "good imported, 4 refused", True)
def _p_batch(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.legacy.importer import import_legacy
    from testkit import hostile

    hostile.legacy_model(tmp / "src" / "a_good")
    for name, body in (("b", hostile.laughs_body()), ("c", hostile.deep_list_body()), ("d", hostile.hash_bomb_body())):
        hostile.legacy_model(tmp / "src" / name, {"NoiseAmp.pth": hostile.torch_zip(hostile.noise_amps(body))})
    hostile.legacy_model(tmp / "src" / "e", {"reals.pth": hostile.stride0_view(16_000)})
    s = import_legacy(tmp / "src", tmp / "out")
    return s.imported == ["a_good"] and len(s.refused) == 4, f"imported {s.imported}, refused {len(s.refused)}"


# ---------------------------------------------------------------------------------------------- tampered configs
def _tampered(tmp: Path, change: Callable, words: str, weights: Callable | None = None) -> tuple[bool, str]:
    from singanseg_core.services.demo import ASSETS_DIR
    from testkit import hostile

    ck = tmp / "ck"
    shutil.copytree(ASSETS_DIR / "checkpoints" / "ihc_r256_c256", ck)
    if change is not None:
        hostile.tamper_config(ck, change)
    if weights is not None:
        weights(ck)
    code, err = _cli(["sample", "--checkpoint", str(ck), "--out", str(tmp / "samples" / "o"), "--n", "4"])
    ok, seen = _one_line_refusal(code, err, words)
    written = sorted(p.name for p in tmp.rglob("*.png") if "ck" not in p.parts)
    return ok and not written, seen + (f"; WROTE {written[:3]}" if written else "")


@probe('config: "name": "../../x"', "tampered checkpoints", "refused, nothing written outside", True)
def _c_name(tmp: Path) -> tuple[bool, str]:
    return _tampered(tmp, lambda c: {**c, "name": "../../x"}, "must be a plain name")


@probe("config: scale_factor 0.005 (GBs per sample)", "tampered checkpoints", "refused", True)
def _c_scale(tmp: Path) -> tuple[bool, str]:
    return _tampered(tmp, lambda c: {**c, "scale_factor": 0.005}, "scale_factor")


@probe("config: NaN noise amplitudes", "tampered checkpoints", "refused", True)
def _c_nan(tmp: Path) -> tuple[bool, str]:
    return _tampered(tmp, lambda c: {**c, "noise_amp": [float("nan")] * len(c["nfc"])}, "noise_amp")


@probe("config: a list instead of an object", "tampered checkpoints", "refused", True)
def _c_list(tmp: Path) -> tuple[bool, str]:
    return _tampered(tmp, lambda c: [c], "expected a JSON object")


@probe("weights: NaN in a generator", "tampered checkpoints", "refused", True)
def _c_nan_weights(tmp: Path) -> tuple[bool, str]:
    from testkit import hostile

    return _tampered(tmp, None, "NaN or infinite", hostile.nan_weights)


@probe("weights: 64 MB larger than the config needs", "tampered checkpoints", "refused unread", True)
def _c_big_weights(tmp: Path) -> tuple[bool, str]:
    def grow(ck: Path) -> None:
        with open(ck / "model.safetensors", "ab") as fh:
            fh.truncate((ck / "model.safetensors").stat().st_size + (64 << 20))

    return _tampered(tmp, None, "needs at most", grow)


# ---------------------------------------------------------------------------------------------- images and masks
def _train_refused(tmp: Path, image, mask, words: str) -> tuple[bool, str]:  # noqa: ANN001
    from PIL import Image

    img, msk = tmp / "i.png", tmp / "m.png"
    Image.fromarray(image).save(img) if not isinstance(image, bytes) else img.write_bytes(image)
    Image.fromarray(mask).save(msk) if not isinstance(mask, bytes) else msk.write_bytes(mask)
    code, err = _cli(["train", "--image", str(img), "--mask", str(msk), "--out", str(tmp / "ck"), "--preset",
                      "tiny", "--device", "cpu"])
    ok, seen = _one_line_refusal(code, err, words)
    return ok and not (tmp / "ck").exists(), seen


@probe("mask: red object on navy", "images and masks", "refused", True)
def _m_navy(tmp: Path) -> tuple[bool, str]:
    from testkit import hostile

    return _train_refused(tmp, hostile.textured_image(), hostile.bad_masks()["red-on-navy"], "colour mask")


@probe("mask: a photo", "images and masks", "refused", True)
def _m_photo(tmp: Path) -> tuple[bool, str]:
    import numpy as np
    from PIL import Image

    from testkit.shared_data import polyp

    img = np.asarray(Image.open(polyp(STEM)[0]).convert("RGB"))
    return _train_refused(tmp, img, img, "a photo?")


@probe("mask: 0/1 label mask", "images and masks", "accepted as 0/255, noted", True)
def _m_labels(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.files.pairs import load_pair
    from testkit import hostile
    from PIL import Image

    Image.fromarray(hostile.textured_image()).save(tmp / "i.png")
    Image.fromarray(hostile.square_mask() // 255).save(tmp / "m.png")
    pair = load_pair(tmp / "i.png", tmp / "m.png")
    ok = (pair.mask == hostile.square_mask()).all() and any("0/1" in n for n in pair.notes)
    return bool(ok), f"{(pair.mask > 0).mean():.0%} object; note: {_short(pair.notes[0].split(': ', 1)[-1], 60)}"


@probe("image: 900-megapixel PNG bomb (109 KB)", "images and masks", "refused before decoding", True)
def _m_bomb(tmp: Path) -> tuple[bool, str]:
    from testkit import hostile

    bomb = hostile.decompression_bomb_png()
    return _train_refused(tmp, bomb, bomb, "megapixels")


@probe("image: EXIF-rotated phone JPEG + upright mask", "images and masks", "read upright, trains", True)
def _m_exif(tmp: Path) -> tuple[bool, str]:
    import numpy as np

    from singanseg_core.files.pairs import load_pair
    from testkit import hostile

    upright = np.zeros((48, 64, 3), np.uint8)
    upright[:, :32] = 255
    (tmp / "i.jpg").write_bytes(hostile.exif_rotated_jpeg(upright))
    (tmp / "m.png").write_bytes(hostile.png_bytes(hostile.square_mask()))
    pair = load_pair(tmp / "i.jpg", tmp / "m.png")
    ok = pair.image.shape == (48, 64, 3) and pair.image[:, :30].mean() > 240
    return bool(ok), f"read as {pair.image.shape[1]}x{pair.image.shape[0]}, left half white: {ok}"


@probe("zip: a text file as images/a.png", "images and masks", "refused, nothing imported", True)
def _m_zip_text(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.errors import InputError
    from singanseg_core.services.workspace import Workspace
    from testkit import hostile
    from testkit.zips import make_zip

    ws = Workspace(tmp / "ws")
    try:
        mask = hostile.png_bytes(hostile.square_mask())
        ws.import_zip(make_zip({"images/a.png": b"hello", "masks/a.png": mask}), "z")
        return False, "imported"
    except InputError as err:
        return ws.list_datasets() == [], "refused: " + _short(str(err), 90)


@probe("zip: 'a b.png' and 'a_b.png' (one clean name)", "images and masks", "refused naming both", True)
def _m_zip_clash(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.errors import InputError
    from singanseg_core.services.workspace import Workspace
    from testkit import hostile
    from testkit.zips import make_zip

    img, msk = hostile.png_bytes(hostile.textured_image()), hostile.png_bytes(hostile.square_mask())
    try:
        Workspace(tmp / "ws").import_zip(make_zip({"images/a b.png": img, "images/a_b.png": img,
                                                   "masks/a_b.png": msk}), "z")
        return False, "imported"
    except InputError as err:
        return "'images/a b.png' and 'images/a_b.png'" in str(err), "refused: " + _short(str(err), 90)


@probe("upload: the same pairs twice", "images and masks", "second time skipped, said so", True)
def _m_dup(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.services.workspace import Workspace
    from testkit import hostile

    ws = Workspace(tmp / "ws")
    pairs = [(f"p{i}.png", hostile.png_bytes(hostile.textured_image(seed=i)), hostile.png_bytes(hostile.square_mask()))
             for i in range(3)]
    ws.add_pairs("d", pairs)
    again = ws.add_pairs("d", pairs)
    n = len(list((ws.datasets / "d" / "images").iterdir()))
    return not again.written and len(again.skipped) == 3 and n == 3, f"{n} images kept, {len(again.skipped)} skipped"


# ---------------------------------------------------------------------------------------------- interruptions
def _spawn(argv: list[str]) -> subprocess.Popen:
    env = child_env(OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "singanseg_core", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, start_new_session=True)


@probe("kill -9 during training (after scale 2)", "interruptions", "partial checkpoint loads; --resume finishes")
def _k_train(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.model import SinGANSeg, checkpoint_status
    from testkit.shared_data import polyp

    img, msk = polyp(STEM)
    argv = ["train", "--image", str(img), "--mask", str(msk), "--out", str(tmp / "ck"), "--preset", "tiny",
            "--max-size", "40", "--iters", "60", "--device", "cpu"]
    proc = _spawn(argv)
    end = time.time() + 150
    while time.time() < end and proc.poll() is None:
        st = checkpoint_status(tmp / "ck")
        if st.config is not None and st.config.num_scales >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    st = checkpoint_status(tmp / "ck")
    loads = st.state == "partial" and SinGANSeg.from_pretrained(tmp / "ck").num_scales == st.config.num_scales
    code, err = _cli([*argv, "--resume"])
    done = checkpoint_status(tmp / "ck")
    at = st.config.num_scales if st.config else 0
    return bool(loads and code == 0 and done.state == "finished"), \
        f"killed at {at} scales ({st.state}, loads: {loads}); resume: {done.state}"


@probe("kill -9 during sampling (2000 samples)", "interruptions", "no samples folder; the next write clears the temp")
def _k_sample(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.services.demo import ASSETS_DIR

    out = tmp / "samples" / "set"
    proc = _spawn(["sample", "--checkpoint", str(ASSETS_DIR / "checkpoints" / "ihc_r256_c256"), "--out", str(out),
                   "--n", "2000", "--device", "cpu"])
    end = time.time() + 150
    while time.time() < end and proc.poll() is None:
        partial = [p for p in out.parent.glob(".set.partial-*")] if out.parent.exists() else []
        if partial and len(list(partial[0].glob("*.png"))) >= 40:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    hidden = [p for p in out.parent.iterdir() if p.name.startswith(".")] if out.parent.exists() else []
    pngs = sum(len(list(p.glob("*.png"))) for p in hidden)
    absent = not out.exists()
    code, _ = _cli(["sample", "--checkpoint", str(ASSETS_DIR / "checkpoints" / "ihc_r256_c256"), "--out", str(out),
                    "--n", "1", "--device", "cpu"])
    left = [p.name for p in out.parent.iterdir() if p.name.startswith(".")]
    return absent and code == 0 and not left, (f"no {out.name}/ after the kill ({pngs} PNGs in a hidden temp); "
                                               f"next sample run: exit {code}, temps left: {len(left)}")


def _tmpfs(path: Path, size_kb: int) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def _unmount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)


@probe("disk full while sampling", "disk full", "one line, exit 1, no samples folder")
def _d_sample(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.services.demo import ASSETS_DIR
    from testkit import hostile

    disk = tmp / "disk"
    real = _tmpfs(disk, 512)
    argv = ["sample", "--checkpoint", str(ASSETS_DIR / "checkpoints" / "ihc_r256_c256"), "--out",
            str(disk / "set"), "--n", "200", "--device", "cpu"]
    try:
        if real:
            code, err = _cli(argv)
        else:
            with hostile.disk_budget(None, 512 << 10):
                code, err = _cli(argv)
        ok, seen = _one_line_refusal(code, err, "the disk is full")
        left = sorted(p.name for p in disk.iterdir())
        return ok and not left, f"{'tmpfs 512 KB' if real else 'capped writer'}: {seen}; left: {left or 'nothing'}"
    finally:
        if real:
            _unmount(disk)


@probe("disk full while saving a checkpoint", "disk full", "one line; last finished scale kept, loadable")
def _d_train(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.model import SinGANSeg, checkpoint_status
    from testkit import hostile
    from testkit.shared_data import polyp

    disk = tmp / "disk"
    real = _tmpfs(disk, 900)
    img, msk = polyp(STEM)
    argv = ["train", "--image", str(img), "--mask", str(msk), "--out", str(disk / "ck"), "--preset", "tiny",
            "--max-size", "64", "--iters", "2", "--device", "cpu"]
    try:
        if real:
            code, err = _cli(argv)
        else:
            with hostile.disk_budget(None, 900 << 10):
                code, err = _cli(argv)
        ok, seen = _one_line_refusal(code, err, "the disk is full")
        st = checkpoint_status(disk / "ck")
        loads = st.state == "partial" and SinGANSeg.from_pretrained(disk / "ck").num_scales == st.config.num_scales
        return ok and loads, f"{seen}; kept: {st.state} {st.config.num_scales if st.config else 0} scales"
    finally:
        if real:
            _unmount(disk)


# ---------------------------------------------------------------------------------------------- concurrency
@probe("two `train` into one folder", "concurrent writers", "second refused in one line; folder is the first's")
def _w_train(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.files.pairs import load_pair
    from singanseg_core.model import checkpoint_status
    from testkit.shared_data import polyp

    (a_img, a_msk), (b_img, b_msk) = polyp(STEM), polyp("cju2zp89k9q1g0855k1x0f1xa")
    common = ["train", "--out", str(tmp / "ck"), "--preset", "tiny", "--max-size", "40", "--device", "cpu"]
    first = _spawn([*common, "--image", str(a_img), "--mask", str(a_msk), "--iters", "40"])
    end = time.time() + 120
    while time.time() < end and not ((tmp / "ck" / ".lock").exists()
                                     and (tmp / "ck" / ".lock").read_text().strip() == str(first.pid)):
        time.sleep(0.05)
    code, err = _cli([*common, "--image", str(b_img), "--mask", str(b_msk), "--iters", "2"])
    still = first.poll() is None
    first.wait(timeout=300)
    st = checkpoint_status(tmp / "ck")
    same = st.config is not None and st.config.source["content_hash"] == load_pair(a_img, a_msk).content_hash()
    ok, seen = _one_line_refusal(code, err, "being written by another process")
    return ok and still and same and st.state == "finished", f"{seen}; first finished: {st.state}, its image: {same}"


@probe("8 threads reserving one folder name", "concurrent writers", "8 different folders")
def _w_reserve(tmp: Path) -> tuple[bool, str]:
    import threading

    from singanseg_core.services.workspace import Workspace

    ws, got = Workspace(tmp / "ws"), []
    threads = [threading.Thread(target=lambda: got.append(ws.reserve_dir(ws.samples, "set"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = sorted({p.name for p in got})
    return len(names) == 8, f"{len(names)} folders: {names[:3]}..."


@probe("cancel a job stuck in a read (SIGTERM blocked)", "jobs", "terminated; the next job runs")
def _j_stuck(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.services import jobs
    from singanseg_core.services.demo import ensure_demo_workspace
    from singanseg_core.services.workspace import Workspace
    from testkit.hostile import STUCK_WORKER

    os.environ["SINGANSEG_MAX_JOBS"] = "1"
    ws = Workspace(tmp / "ws")
    ensure_demo_workspace(ws)
    stuck = jobs.submit(ws, "import-legacy", {"src": "legacy"}, start=False)
    env = child_env(SINGANSEG_WORKSPACE=str(ws.root))
    worker = subprocess.Popen([sys.executable, "-c", STUCK_WORKER, str(stuck.dir)], start_new_session=True, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def until(job_id: str, states: tuple[str, ...], limit: float = 150) -> jobs.Job:
        end = time.time() + limit
        while time.time() < end and jobs.get_job(ws, job_id).state not in states:
            time.sleep(0.2)
        return jobs.get_job(ws, job_id)

    until(stuck.id, ("running",))
    behind = jobs.submit(ws, "sample", {"checkpoints": [ws.list_checkpoints()[0]], "n": 2, "out": "after"})
    t0 = time.time()
    jobs.cancel(ws, stuck.id, terminate_after=2.0)
    job = until(stuck.id, ("cancelled", "failed", "done"))
    stop_s = time.time() - t0
    after = until(behind.id, ("done", "failed"), 240)
    if worker.poll() is None:
        worker.kill()
    worker.wait()
    return job.state == "cancelled" and after.state == "done", \
        f"stuck job {job.state} {stop_s:.1f} s after cancel (grace 2 s); next job: {after.state}"


@probe("download without Content-Length", "downloads", "stopped at the cap, partial file deleted")
def _dl(tmp: Path) -> tuple[bool, str]:
    import http.server
    import socketserver
    import threading

    from singanseg_core.errors import InputError
    from singanseg_core.legacy.download import download_file

    class Endless(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    self.wfile.write(bytes(1 << 16))
            except OSError:
                pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Endless)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        download_file(f"http://127.0.0.1:{server.server_address[1]}/x.zip", tmp / "a" / "x.zip", max_bytes=8 << 20,
                      retries=0)
        return False, "downloaded without end"
    except InputError as err:
        left = sorted(p.name for p in (tmp / "a").iterdir())
        return not left, "refused: " + _short(str(err).split(": ", 1)[-1], 70) + f"; left: {left or 'nothing'}"
    finally:
        server.shutdown()
        server.server_close()


@probe("study --overwrite with --out = --data", "data loss", "refused, dataset intact")
def _s_overwrite(tmp: Path) -> tuple[bool, str]:
    from testkit import hostile

    data = hostile.textured_dataset(tmp / "data")
    code, err = _cli(["study", "small-data", "--data", str(data), "--out", str(data), "--r-values", "2",
                      "--overwrite"])
    ok, seen = _one_line_refusal(code, err, "nothing was deleted")
    n = len(list((data / "images").iterdir()))
    return ok and n == 6, f"{seen}; {n} images left"


# ---------------------------------------------------------------------------------------------- runner
# ---------------------------------------------------------------------------------------------- trust, second pass
# Each probe states its cap; peak memory and time are measured by the parent like every other probe.
def _demo_copy(tmp: Path, name: str = "ck") -> Path:
    from singanseg_core.services.demo import ASSETS_DIR

    dest = tmp / name
    shutil.copytree(ASSETS_DIR / "checkpoints" / "ihc_r256_c256", dest)
    return dest


@probe("trust-json-huge-int", "trust", "a 5000-digit integer in config.json: its own line, the table lists the rest",
       adversarial=True)
def _t_json(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.services import catalog
    from singanseg_core.services.workspace import Workspace

    ws = Workspace(tmp / "ws")
    _demo_copy(ws.checkpoints, "good")
    (_demo_copy(ws.checkpoints, "bad") / "config.json").write_bytes(b'{"nc_im": ' + b"9" * 5000 + b"}")
    table = catalog.checkpoint_table(ws).set_index("checkpoint")
    state = str(table.loc["bad", "state"])
    return state.startswith("unreadable") and table.loc["good", "state"] == "finished", _short(state)


@probe("trust-json-deep", "trust", "config.json nested 500000 deep (1 MiB cap, depth cap 32): one line",
       adversarial=True)
def _t_deep(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.model import checkpoint_status

    ck = _demo_copy(tmp)
    (ck / "config.json").write_bytes(b"[" * 500_000 + b"]" * 500_000)
    status = checkpoint_status(ck)
    return status.state == "broken" and "config.json" in status.message, _short(status.message)


@probe("trust-cli-unwritable-out", "trust", "sample --out under a plain file: one line naming the path")
def _t_cli(tmp: Path) -> tuple[bool, str]:
    ck = _demo_copy(tmp)
    (tmp / "file").write_text("x")
    code, err = _cli(["sample", "--checkpoint", str(ck), "--out", str(tmp / "file" / "out"), "--n", "1"])
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return code == 1 and len(lines) == 1 and str(tmp / "file") in lines[0], _short(lines[-1] if lines else "")


@probe("trust-leftovers", "trust", "a dead writer's .partial-* folder is removed at the next open")
def _t_leftovers(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.services.workspace import Workspace

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    ws = Workspace(tmp / "ws")
    dead = ws.samples / f".set.partial-{proc.pid}-0000abcd"
    dead.mkdir()
    removed = ws.clean_leftovers()
    return not dead.exists(), f"removed {removed}"


@probe("trust-passphrase-16-tabs", "trust", "16 sessions guessing for an hour (injected clock): "
       "server-wide backoff, at most ~26 guesses compared")
def _t_gate(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.services.access import AccessPolicy, PassphraseGate, sha256_hex

    gate, now, compared = PassphraseGate(AccessPolicy("classroom", sha256_hex("a long secret"))), 0.0, 0
    while now < 3600.0:
        compared += sum(gate.check(f"tab{i}", "guess", now).state != "wait" for i in range(16))
        now += 0.25
    return compared <= 26, f"{compared} guesses compared in one hour ({compared / 3600:.4f}/s)"


@probe("trust-budget-visitor", "trust", "visitor: 64 samples x3 x3 x8 redraws on 250 px refused "
       "(cap 8M pixel draws); 8 samples allowed")
def _t_budget(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.errors import InputError
    from singanseg_core.services import budget

    ck = SimpleNamespace(sizes=[[25, 20], [59, 47], [140, 112], [250, 200]], nfc=[32, 32, 64, 64], num_layer=5)
    try:
        with budget.sampling_guard([ck], 64, 3, 3, redraw_empty=8, visitor=True, environ={}):
            return False, "ran"
    except InputError as err:
        refusal = str(err)
    with budget.sampling_guard([ck], 8, visitor=True, environ={}) as est:
        pass
    return "the cap is" in refusal and est.work == 8 * 250 * 200, _short(refusal)


# ---------------------------------------------------------------------------------------------- classroom
# A real dashboard (`streamlit run app.py` on a free loopback port, classroom mode, a passphrase) and a hostile
# visitor: its own websocket session (testkit.streamlit_client) and HTTP PUTs. Each probe states its cap; the
# server's resident memory (now / peak, from /proc) is in the observed column, the probe's own in the table.
CLASSROOM_SECRET = "a long secret"


def _classroom(tmp: Path, **env: str):  # noqa: ANN202 - a context manager of a Server
    from testkit.streamlit_client import dashboard_server

    ws = tmp / "ws"
    ws.mkdir()
    (ws / "demo.json").write_text('{"demo": true}')  # a demo workspace the teacher emptied: nothing to copy
    return dashboard_server({"SINGANSEG_WORKSPACE": str(ws), "SINGANSEG_MODE": "classroom",
                             "SINGANSEG_PASSPHRASE": CLASSROOM_SECRET, **env})


@probe("classroom-locked-put", "classroom", "6 PUTs of 50 MB from a locked session: all refused (cap: 0 files "
       "while locked), checked before the body is read", adversarial=True)
def _cl_put(tmp: Path) -> tuple[bool, str]:
    from testkit.streamlit_client import Visitor, put_upload, rss_mb

    with _classroom(tmp) as server, Visitor(server) as visitor:
        visitor.run()
        before = rss_mb(server.pid)
        t0 = time.perf_counter()
        statuses = [put_upload(server, visitor.session_id, b"\0" * (50 << 20)) for _ in range(6)]
        seconds = time.perf_counter() - t0
        after = rss_mb(server.pid)
    return set(statuses) == {403} and after[0] - before[0] < 100, (
        f"HTTP {statuses}; server RSS {before[0]:.0f} -> {after[0]:.0f} MB (peak {after[1]:.0f}); {seconds:.1f} s")


@probe("classroom-zip-of-many", "classroom", "a zip of 80 images with SINGANSEG_MAX_UPLOADS=50: refused before "
       "unpacking (a zip counts as its images)", adversarial=True)
def _cl_zip(tmp: Path) -> tuple[bool, str]:
    from singanseg_core.services.access import policy_from_env
    from singanseg_core.services.uploads_quota import UploadCounts, zip_image_count
    from testkit.zips import make_zip

    pol = policy_from_env({"SINGANSEG_MAX_UPLOADS": "50"})
    data = make_zip({f"{d}/p{i}.png": b"x" for i in range(40) for d in ("images", "masks")})
    n = zip_image_count(data, "many.zip")
    why = UploadCounts().take(n, pol.max_uploads_per_server, "visitor", pol.max_uploads_per_session)
    return n == 80 and why is not None and "50 per browser session" in why, f"{n} images counted: {_short(why)}"


@probe("classroom-clear-cache", "classroom", "clear_cache from a locked session on an emptied workspace: "
       "caches kept, nothing written")
def _cl_clear(tmp: Path) -> tuple[bool, str]:
    from testkit.streamlit_client import Visitor, rss_mb

    def files() -> list[str]:
        return sorted(str(p.relative_to(tmp)) for p in (tmp / "ws").rglob("*") if p.is_file() and "logs" not in p.parts)

    with _classroom(tmp) as server, Visitor(server) as visitor:
        visitor.run()
        before = files()
        for _ in range(5):
            visitor.clear_cache()
            visitor.run()
        after, peak = files(), rss_mb(server.pid)[1]
    return before == after, f"{len(before)} files before, {len(after)} after 5 clears; server peak {peak:.0f} MB"


@probe("classroom-passphrase-tabs", "classroom", "8 websocket sessions x 3 wrong guesses: after 5 free ones the "
       "server waits (1 s, doubling; cap 300 s) whichever session asks: at most 6 + log2(1 + elapsed s) compared")
def _cl_guess(tmp: Path) -> tuple[bool, str]:
    from testkit.streamlit_client import Visitor, rss_mb

    with _classroom(tmp) as server:
        visitors = [Visitor(server).__enter__() for _ in range(8)]
        try:
            drawn = [v.run() for v in visitors]
            t0 = time.perf_counter()
            said = [v.guess_passphrase(d, f"guess {i}")[1] for _ in range(3) for i, (v, d) in
                    enumerate(zip(visitors, drawn))]
        finally:
            for v in visitors:
                v.__exit__()
        elapsed, peak = time.perf_counter() - t0, rss_mb(server.pid)[1]
    from singanseg_core.services.access import FIRST_WAIT_S, FREE_WRONG_GUESSES

    compared = sum(m.startswith("Wrong passphrase") for m in said)
    waited = sum(m.startswith("Too many wrong passphrases") for m in said)
    bound = FREE_WRONG_GUESSES + 1 + math.log2(1 + elapsed / FIRST_WAIT_S)
    return compared <= bound and compared + waited == len(said), (
        f"{compared} of {len(said)} guesses compared in {elapsed:.0f} s (bound {bound:.1f}), {waited} told to wait; "
        f"server peak {peak:.0f} MB")


def run_probe_here(name: str, tmp: str) -> None:
    """Child side: run one probe, print one JSON line."""
    import torch

    torch.set_num_threads(1)
    group, expected, adversarial, fn = PROBES[name]
    try:
        held, observed = fn(Path(tmp))
    except BaseException as err:  # noqa: BLE001 - a probe that breaks is a probe that did not hold
        held, observed = False, f"{type(err).__name__}: {_short(str(err), 100)}"
    print("@@" + json.dumps({"held": bool(held), "observed": observed}), flush=True)


def run_probe_child(name: str) -> dict:
    """Parent side: run ``name`` in a child; its peak RSS from wait4, its wall time, a timeout."""
    with tempfile.TemporaryDirectory(prefix="bench-rel-") as tmp:
        env = child_env()
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bench.bench_reliability", "--probe", name, "--tmp", tmp],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT, env=env,
                                start_new_session=True)
        timer = __import__("threading").Timer(PROBE_TIMEOUT_S, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        for mount in Path(tmp).rglob("disk"):
            _unmount(mount)
    line = next((ln[2:] for ln in out.splitlines() if ln.startswith("@@")), None)
    killed = ", killed after timeout" if seconds >= PROBE_TIMEOUT_S else ""
    result = json.loads(line) if line else {"held": False, "observed": f"no answer (exit {proc.returncode}{killed})"}
    return {**result, "rss_mb": usage.ru_maxrss / 1024.0, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probe", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    ap.add_argument("--only", nargs="+", help="run only probes whose name contains one of these words")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = ap.parse_args(argv)
    if args.probe:
        run_probe_here(args.probe, args.tmp)
        return 0
    names = [n for n in PROBES if n == "baseline" or not args.only or any(w in n for w in args.only)]
    from testkit.hostile import inflated_storage

    cache = tempfile.NamedTemporaryFile(prefix="bench-rel-", suffix=".pth", delete=False)
    cache.write(inflated_storage(1 << 30))
    cache.close()
    os.environ[INFLATED_ENV] = cache.name
    rows = []
    base = None
    for name in names:
        r = run_probe_child(name)
        group, expected, adversarial, _ = PROBES[name]
        if name == "baseline":
            base = r["rss_mb"]
        extra = r["rss_mb"] - (base or 0.0)
        bounded = not adversarial or (extra <= EXTRA_MB_BOUND and r["seconds"] <= TIME_BOUND_S)
        rows.append({"group": group, "probe": name, "expected": expected, "observed": r["observed"],
                     "held": r["held"] and bounded, "rss_mb": r["rss_mb"], "extra_mb": extra,
                     "seconds": r["seconds"], "adversarial": adversarial})
        print(f"{'ok ' if rows[-1]['held'] else 'NO '} {name}: {r['observed']} ({r['rss_mb']:.0f} MB, "
              f"{r['seconds']:.1f} s)", flush=True)
    os.unlink(cache.name)
    probes = [r for r in rows if r["probe"] != "baseline"]
    held = sum(r["held"] for r in probes)
    lines = [
        "## Reliability probes", "",
        f"`python -m bench.bench_reliability` on {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the "
        f"end), torch {__import__('torch').__version__}. Each probe runs in its own child process: peak RSS is that "
        f"child's ru_maxrss, torch and the engine imported (baseline {base:.0f} MB); time includes the ~3-6 s "
        "import. Bound for an adversarial file (marked *): at most "
        f"**{EXTRA_MB_BOUND} MB above the baseline and {TIME_BOUND_S:.0f} s**; a probe past {PROBE_TIMEOUT_S:.0f} s "
        "is killed and fails. Disk-full probes use a real tmpfs when one can be mounted.", "",
        f"**{held} of {len(probes)} probes held.**", "",
        "| group | probe | expected | observed | held? | peak RSS MB (+ over baseline) | time s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in probes:
        star = " *" if r["adversarial"] else ""
        lines.append(f"| {r['group']} | {r['probe']}{star} | {r['expected']} | {r['observed'].replace('|', '/')} | "
                     f"{'yes' if r['held'] else '**NO**'} | {r['rss_mb']:.0f} (+{max(r['extra_mb'], 0):.0f}) | "
                     f"{r['seconds']:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write and not args.only:
        from bench._results import write_section

        write_section(text)
    return 0 if held == len(probes) else 1


if __name__ == "__main__":
    sys.exit(main())
