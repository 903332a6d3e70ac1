"""``pretrained download`` end to end against a stub HTTP server on 127.0.0.1 (no internet needed).

The server serves zips built from the legacy fixture in the published layout, supports Range requests, and can
drop the connection part-way through a response to simulate an interrupted transfer.
"""

from __future__ import annotations

import io
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

from singanseg_core import cli
from singanseg_core.errors import InputError
from singanseg_core.model import SinGANSeg
from singanseg_core.legacy.download import (
    ArchiveSource,
    PretrainedSources,
    UnsafeArchiveError,
    check_online,
    download_file,
    download_pretrained,
    load_sources,
    safe_extract,
)

from tests.helpers import FIXTURE_A as FIXTURE
from tests.helpers import LEGACY_FILES as FILES
from tests.helpers import LEGACY_MODEL_DIR as MODEL_DIR
from tests.helpers import make_zip, needs_shared

pytestmark = needs_shared  # the published layout is built from the legacy fixture

MODEL_ID = "cju0qkwl35piu0993l0dewei2"


class StubServer:
    """``files[path] = bytes``; ``cut[path] = n`` drops the first response for ``path`` after n body bytes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                rng = self.headers.get("Range")
                server.requests.append((path, rng))
                body = server.files.get(path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if rng:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Content-Type", "application/zip")
                self.end_headers()
                cut = server.cut.pop(path, None)
                payload = body[start:] if cut is None else body[start:start + cut]
                self.wfile.write(payload)
                self.wfile.flush()
                if cut is not None:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}?dl=1"

    def sources(self, parts: dict[str, str], real: dict[str, str] | None = None) -> PretrainedSources:
        real = real or {"images": "/real_images.zip", "masks": "/real_masks.zip"}
        return PretrainedSources(
            models={k: ArchiveSource(self.url(p), Path(p).stem) for k, p in parts.items()},
            real_data={k: ArchiveSource(self.url(p), Path(p).stem) for k, p in real.items()},
            origin="stub")


@pytest.fixture()
def server() -> Iterator[StubServer]:
    s = StubServer()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()




def _models_zip(folder: str = "TrainedModels_1_clean") -> bytes:
    return make_zip({f"{folder}/{MODEL_ID}/{n}": (MODEL_DIR / n).read_bytes() for n in FILES})


def _real_zips() -> tuple[bytes, bytes]:
    rgba = Image.open(FIXTURE / "Input" / "coffee.png")
    img, mask = io.BytesIO(), io.BytesIO()
    rgba.convert("RGB").save(img, format="JPEG", quality=95)
    rgba.getchannel("A").save(mask, format="PNG")
    return make_zip({f"real_images/{MODEL_ID}.jpg": img.getvalue()}), make_zip({f"real_masks/{MODEL_ID}.png": mask.getvalue()})


def test_download_resumes_extracts_and_imports(server: StubServer, tmp_path: Path) -> None:
    models = _models_zip()
    images, masks = _real_zips()
    server.files.update({"/TrainedModels_1_clean.zip": models, "/real_images.zip": images,
                         "/real_masks.zip": masks})
    server.cut["/TrainedModels_1_clean.zip"] = len(models) // 3  # first transfer dies a third of the way in
    seen: list[tuple[str, int, int | None]] = []

    result = download_pretrained(tmp_path / "pre", parts=[1], real_data=True,
                                 sources=server.sources({"1": "/TrainedModels_1_clean.zip"}),
                                 progress=lambda n, d, t: seen.append((n, d, t)) or True, retry_wait=0.0)

    model_requests = [r for r in server.requests if r[0] == "/TrainedModels_1_clean.zip"]
    assert model_requests == [("/TrainedModels_1_clean.zip", None),
                              ("/TrainedModels_1_clean.zip", f"bytes={len(models) // 3}-")]
    assert seen[-1][0] == "real_masks.zip" and any(d == len(models) and n.startswith("Trained") for n, d, _ in seen)
    assert sorted(result.downloaded) == ["TrainedModels_1_clean.zip", "real_images.zip", "real_masks.zip"]
    legacy = tmp_path / "pre" / "legacy"
    assert (legacy / "TrainedModels_1_clean" / MODEL_ID / "Gs.pth").read_bytes() == (MODEL_DIR / "Gs.pth").read_bytes()
    assert not list((tmp_path / "pre" / "archives").iterdir())  # archives removed after extraction

    assert result.summary is not None and result.summary.imported == [MODEL_ID]
    model = SinGANSeg.from_pretrained(tmp_path / "pre" / "models" / MODEL_ID)
    assert model.config.source["origin"] == "legacy" and model.config.source["image"] == f"{MODEL_ID}.jpg"
    alpha = np.asarray(Image.open(FIXTURE / "Input" / "coffee.png").getchannel("A"))
    assert np.array_equal(np.asarray(model.real_mask()), np.where(alpha > 127, 255, 0))

    # A second run fetches nothing and imports nothing new.
    server.requests.clear()
    again = download_pretrained(tmp_path / "pre", parts=[1], real_data=True,
                                sources=server.sources({"1": "/TrainedModels_1_clean.zip"}))
    assert server.requests == [] and again.downloaded == []
    assert again.summary.skipped == [(MODEL_ID, "already imported")]


def test_partial_file_resumes_in_a_later_run(server: StubServer, tmp_path: Path) -> None:
    body = _models_zip()
    server.files["/a.zip"] = body
    server.cut["/a.zip"] = 1000
    dest = tmp_path / "a.zip"
    with pytest.raises(InputError, match="run again to resume"):
        download_file(server.url("/a.zip"), dest, retries=0, retry_wait=0.0)
    assert (tmp_path / "a.zip.part").stat().st_size == 1000 and not dest.exists()
    download_file(server.url("/a.zip"), dest, retries=0)
    assert dest.read_bytes() == body and server.requests[-1] == ("/a.zip", "bytes=1000-")


def test_malicious_entries_are_refused_and_nothing_is_extracted(server: StubServer, tmp_path: Path) -> None:
    evil = make_zip({"TrainedModels_2_clean/ok/Gs.pth": b"x", "TrainedModels_2_clean/../../evil.txt": b"pwned"})
    server.files["/TrainedModels_2_clean.zip"] = evil
    root = tmp_path / "pre"
    with pytest.raises(UnsafeArchiveError, match=r"refused entry 'TrainedModels_2_clean/\.\./\.\./evil\.txt'"):
        download_pretrained(root, parts=[2], sources=server.sources({"2": "/TrainedModels_2_clean.zip"}))
    assert not list(tmp_path.rglob("evil.txt"))
    assert not (root / "legacy").exists() or not any((root / "legacy").iterdir())

    cases = {
        "absolute": make_zip({"/etc/evil": b"x"}),
        "link": make_zip({"d/file": b"x"}, links={"d/link": "/etc/passwd"}),
        "backslash": make_zip({"d\\..\\evil": b"x"}),
    }
    for why, data in cases.items():
        archive = tmp_path / f"{why}.zip"
        archive.write_bytes(data)
        with pytest.raises(UnsafeArchiveError, match="refused entry"):
            safe_extract(archive, tmp_path / "out")
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(make_zip({"zeros.bin": bytes(5_000_000)}))
    assert bomb.stat().st_size < 20_000
    with pytest.raises(UnsafeArchiveError, match="zip bomb"):
        safe_extract(bomb, tmp_path / "out", max_bytes=1_000_000)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_download_and_offline_fail_clearly(server: StubServer, tmp_path: Path) -> None:
    server.files["/TrainedModels_3_clean.zip"] = b"<html>quota exceeded</html>"
    with pytest.raises(InputError, match="not a complete zip archive"):
        download_pretrained(tmp_path / "pre", parts=[3], sources=server.sources({"3": "/TrainedModels_3_clean.zip"}))
    assert not (tmp_path / "pre" / "archives" / "TrainedModels_3_clean.zip").exists()  # the next run fetches again
    with pytest.raises(InputError, match="HTTP 404"):
        download_pretrained(tmp_path / "pre", parts=[4], sources=server.sources({"4": "/missing.zip"}))

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    with pytest.raises(InputError, match="are you offline"):
        check_online(f"http://127.0.0.1:{port}/x.zip", timeout=2.0)
    offline = PretrainedSources({"1": ArchiveSource(f"http://127.0.0.1:{port}/TrainedModels_1_clean.zip",
                                                    "TrainedModels_1_clean")}, {}, "closed port")
    with pytest.raises(InputError, match="cannot reach 127.0.0.1"):
        download_pretrained(tmp_path / "off", parts=[1], sources=offline)
    with pytest.raises(InputError, match="unknown part"):
        download_pretrained(tmp_path / "off", parts=[7], sources=offline)


def test_published_sources_and_cli(server: StubServer, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    published = load_sources()
    assert sorted(published.models) == ["1", "2", "3", "4"] and sorted(published.real_data) == ["images", "masks"]
    for key, src in published.models.items():
        assert src.url.startswith("https://www.dropbox.com/") and src.filename == f"TrainedModels_{key}_clean.zip"
        assert src.url.endswith("?dl=1")

    server.files["/TrainedModels_1_clean.zip"] = _models_zip()
    sources = {"origin": "stub", "real_data": {},
               "models": {"1": {"url": server.url("/TrainedModels_1_clean.zip"), "folder": "TrainedModels_1_clean"}}}
    (tmp_path / "sources.json").write_text(json.dumps(sources))
    rc = cli.main(["pretrained", "download", "--dir", str(tmp_path / "pre"), "--parts", "1", "--quiet",
                   "--keep-archives", "--sources", str(tmp_path / "sources.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "downloaded 1 archive(s)" in out and "imported 1, skipped 0, refused 0" in out
    assert (tmp_path / "pre" / "archives" / "TrainedModels_1_clean.zip").is_file()
    assert (tmp_path / "pre" / "models" / MODEL_ID / "config.json").is_file()
    assert cli.main(["pretrained", "download", "--dir", str(tmp_path / "pre"), "--parts", "1", "--quiet",
                     "--sources", str(tmp_path / "sources.json"), "--models-dir", str(tmp_path / "ckpts")]) == 0
    assert (tmp_path / "ckpts" / MODEL_ID / "model.safetensors").is_file()  # extracted once, imported again
