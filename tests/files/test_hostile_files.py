"""Files from outside: hostile legacy pickles, tampered checkpoints, downloads without a size, kept images."""

from __future__ import annotations

import http.server
import os
import shutil
import socketserver
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from singanseg_core.cli.main import main
from singanseg_core.errors import CheckpointError, InputError
from singanseg_core.legacy.download import download_file
from singanseg_core.legacy.importer import import_legacy
from singanseg_core.legacy.unpickler import restricted_load
from singanseg_core.model import SinGANSeg
from singanseg_core.services.demo import ASSETS_DIR
from singanseg_core.services.workspace import Workspace
from singanseg_core.training import train
from singanseg_core.training.config import TrainConfig
from testkit import hostile
from testkit.shared_data import polyp

DEMO_CK = ASSETS_DIR / "checkpoints" / "ihc_r256_c256"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _one_line(err: BaseException, limit: int = 400) -> str:
    text = str(err)
    assert "\n" not in text and len(text) < limit, text[:1000]
    return text


# ---------------------------------------------------------------------------------------------- legacy pickles
def test_hostile_pickles_are_refused_and_the_batch_goes_on(tmp_path: Path) -> None:
    """A billion-laughs list, a 200 000-deep list and a billion-laughs tuple used as a dict key (hashing it
    hangs in C) in NoiseAmp.pth: each model refused with one bounded line, the good model still imported."""
    root = tmp_path / "legacy"
    hostile.legacy_model(root / "a_good")
    bodies = {"b_laughs": hostile.laughs_body(), "c_deep": hostile.deep_list_body(),
              "d_hash": hostile.hash_bomb_body()}
    for name, body in bodies.items():
        hostile.legacy_model(root / name, {"NoiseAmp.pth": hostile.torch_zip(hostile.noise_amps(body))})
    summary = import_legacy(root, tmp_path / "out")
    assert summary.imported == ["a_good"]
    refused = dict(summary.refused)
    assert sorted(refused) == sorted(bodies)
    for name in bodies:
        assert "NoiseAmp.pth" in refused[name] and "more than 200000 parts or nested deeper" in refused[name]
        assert len(refused[name]) < 400
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_good"]


def test_top_level_laughs_and_deep_list_are_refused() -> None:
    for data in (hostile.billion_laughs(), b"\x80\x02" + hostile.deep_list_body() + b"."):
        with pytest.raises(CheckpointError) as err:
            restricted_load(hostile.torch_zip(data))
        assert "refused" in _one_line(err.value)


def test_storages_are_capped_before_anything_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A storage declaring 4 GiB is refused before its zip member is read (a deflated member of zeros can be
    a 2 MB file that expands to the declared size); a stride-0 view of 16 000 x 16 000 (1 GB once made
    contiguous by the importer) is refused from its geometry."""
    data = hostile.torch_zip(hostile.tensor_pickle(1 << 30, (1 << 30,), (1,)), {"0": bytes(64)})
    read: list[str] = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda self, name, *a, **k: (read.append(getattr(name, "filename", name)),
                                                     real_open(self, name, *a, **k))[1])
    with pytest.raises(CheckpointError) as err:
        restricted_load(data)
    assert "more than 128 MiB of tensors" in _one_line(err.value)
    assert "archive/data/0" not in read
    with pytest.raises(CheckpointError, match="more than 33554432 elements"):
        restricted_load(hostile.stride0_view(16_000))


def test_pickle_size_is_capped() -> None:
    import pickle

    from singanseg_core.legacy.unpickler import MAX_PICKLE_BYTES

    big = pickle.dumps(list(range(300_000)), protocol=2)
    assert len(big) > MAX_PICKLE_BYTES
    with pytest.raises(CheckpointError, match=f"expected ≤ {MAX_PICKLE_BYTES}"):
        restricted_load(hostile.torch_zip(big))


def test_untrusted_values_are_never_rendered_whole() -> None:
    """A tensor geometry of 5 000 numbers: the error names it in a few dozen characters."""
    huge = hostile.tensor_pickle(6, tuple(range(5000)), tuple(range(5000)))
    with pytest.raises(CheckpointError) as err:
        restricted_load(hostile.torch_zip(huge, {"0": bytes(24)}))
    assert "invalid tensor geometry" in _one_line(err.value, 300)


# ---------------------------------------------------------------------------------------------- config.json
@pytest.fixture()
def checkpoint(tmp_path: Path) -> Path:
    out = tmp_path / "ck"
    shutil.copytree(DEMO_CK, out)
    return out


HOSTILE_CONFIGS = {
    "name escapes": (lambda c: {**c, "name": "../../x"}, "must be a plain name"),
    "tiny scale factor": (lambda c: {**c, "scale_factor": 0.005}, "scale_factor 0.005 must be in"),
    "scale factor vs sizes": (lambda c: {**c, "scale_factor": 0.5}, "does not match the sizes"),
    "NaN noise": (lambda c: {**c, "noise_amp": [float("nan")] * len(c["noise_amp"])}, "noise_amp must be finite"),
    "Inf noise": (lambda c: {**c, "noise_amp": [float("inf")] * len(c["noise_amp"])}, "noise_amp must be finite"),
    "a list": (lambda c: [c], "expected a JSON object, found a list"),
    "huge sizes": (lambda c: {**c, "sizes": [[40000, 40000]] * len(c["sizes"])}, "sizes must be [h, w] pairs"),
    "lists disagree": (lambda c: {**c, "nfc": c["nfc"][:-1]}, "they must agree"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_CONFIGS))
def test_tampered_config_is_refused_by_load_and_cli(case: str, checkpoint: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    change, words = HOSTILE_CONFIGS[case]
    hostile.tamper_config(checkpoint, change)
    with pytest.raises(CheckpointError) as err:
        SinGANSeg.from_pretrained(checkpoint)
    assert words in _one_line(err.value)
    out = tmp_path / "samples" / "out"
    assert main(["sample", "--checkpoint", str(checkpoint), "--out", str(out), "--n", "2"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0]
    assert not out.exists() and not (tmp_path / "x_s0_0_img.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # nothing written anywhere


def test_nan_and_oversized_weights_are_refused(checkpoint: Path) -> None:
    hostile.nan_weights(checkpoint)
    with pytest.raises(CheckpointError, match="holds NaN or infinite values"):
        SinGANSeg.from_pretrained(checkpoint)
    shutil.copy(DEMO_CK / "model.safetensors", checkpoint / "model.safetensors")
    with open(checkpoint / "model.safetensors", "ab") as fh:
        fh.write(bytes(8 << 20))
    with pytest.raises(CheckpointError, match="needs at most .* bytes; refused"):
        SinGANSeg.from_pretrained(checkpoint)


def test_train_refuses_a_name_that_leaves_the_folder(tmp_path: Path) -> None:
    """The core refuses it before training anything (the CLI's --name validator is in test_cli_numbers)."""
    img, msk = polyp("cju5k3j3uf6de0817hszzfr7n")
    with pytest.raises(InputError, match="must be a plain name"):
        train(img, msk, tmp_path / "ck", TrainConfig.from_preset("tiny", max_size=28, niter=1), device="cpu",
              name="../../x")
    assert not (tmp_path / "ck").exists() and not (tmp_path.parent / "x").exists()


def test_listings_skip_broken_checkpoints_with_a_note(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    for name in ("good", "listed", "nan", "linked"):
        shutil.copytree(DEMO_CK, ws.checkpoints / name)
    hostile.tamper_config(ws.checkpoints / "listed", lambda c: [c])
    hostile.tamper_config(ws.checkpoints / "nan", lambda c: {**c, "noise_amp": [float("nan")] * len(c["nfc"])})
    (ws.checkpoints / "linked" / "config.json").unlink()
    os.symlink(DEMO_CK / "config.json", ws.checkpoints / "linked" / "config.json")
    (ws.checkpoints / "reserved").mkdir()  # an empty folder reserved for a job: neither listed nor a problem
    assert ws.list_checkpoints() == ["good"] and ws.list_checkpoints(finished_only=True) == ["good"]
    problems = ws.checkpoint_problems()
    assert sorted(problems) == ["linked", "listed", "nan"]
    assert "found a list" in problems["listed"] and "noise_amp" in problems["nan"]
    assert "symbolic link" in problems["linked"]
    assert ws.counts().checkpoints == 1


# ---------------------------------------------------------------------------------------------- kept images
def test_symlinked_real_png_is_never_shown(checkpoint: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    Image.fromarray(np.full((300, 300, 3), 7, np.uint8)).save(secret)
    (checkpoint / "real.png").unlink()
    os.symlink(secret, checkpoint / "real.png")
    model = SinGANSeg.from_pretrained(checkpoint)
    shown = np.asarray(model.real_image())
    assert shown.shape[:2] == tuple(model.config.sizes[-1])  # the finest real scale, not the linked file
    assert not (shown == 7).all()


def test_real_image_and_mask_of_different_sizes_give_a_consistent_pair(checkpoint: Path) -> None:
    Image.fromarray(np.zeros((50, 70, 3), np.uint8)).save(checkpoint / "real.png")
    model = SinGANSeg.from_pretrained(checkpoint)
    image, mask = model.real_image(), model.real_mask()
    assert image.size == mask.size == (70, 50)
    assert set(np.unique(np.asarray(mask))) <= {0, 255}


# ---------------------------------------------------------------------------------------------- downloads
class _Endless(http.server.BaseHTTPRequestHandler):
    """HTTP/1.0 without Content-Length: the body ends when the server closes (``sent`` bytes, or forever)."""

    protocol_version = "HTTP/1.0"
    limit = 6 << 20
    length_header: int | None = None

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        if self.length_header is not None:
            self.send_header("Content-Length", str(self.length_header))
        self.end_headers()
        sent = 0
        try:
            while sent < self.limit:
                self.wfile.write(bytes(1 << 16))
                sent += 1 << 16
        except (BrokenPipeError, ConnectionResetError):
            pass


def _serve(handler: type) -> tuple[socketserver.TCPServer, str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/x.zip"


def test_download_without_content_length_is_capped(tmp_path: Path) -> None:
    server, url = _serve(_Endless)
    try:
        with pytest.raises(InputError) as err:
            download_file(url, tmp_path / "a" / "x.zip", max_bytes=1 << 20, retries=0)
        assert "without saying how many" in _one_line(err.value) and "at most 1048576" in str(err.value)
        assert sorted(p.name for p in (tmp_path / "a").iterdir()) == []  # no .part left to fill the disk

        class Announced(_Endless):
            length_header = 50 << 30

        server2, url2 = _serve(Announced)
        try:
            with pytest.raises(InputError, match="is 53687091200 bytes; at most"):
                download_file(url2, tmp_path / "b" / "x.zip", max_bytes=1 << 20, retries=0)
        finally:
            server2.shutdown()
            server2.server_close()
    finally:
        server.shutdown()
        server.server_close()
