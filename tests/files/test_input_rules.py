"""Bad input is a clear refusal or an explicit, reported conversion: the mask rule, images (16-bit, EXIF),
duplicates and zip imports, in the core, the CLI and uploads."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from singanseg_core.analysis.stats import load_mask
from singanseg_core.cli.main import main
from singanseg_core.errors import InputError
from singanseg_core.files.pairs import find_pairs, load_pair
from singanseg_core.segmentation.data import load_binary_mask
from singanseg_core.services.workspace import Workspace
from testkit import hostile
from testkit.zips import make_zip

H, W = 48, 64
SQUARE = hostile.square_mask(H, W)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _save(path: Path, array: np.ndarray, **kwargs) -> Path:
    Image.fromarray(array).save(path, **kwargs)
    return path


def _good_masks() -> dict[str, tuple[np.ndarray, str | None]]:
    """name -> (mask array as saved, the note expected or None)."""
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = SQUARE
    red = np.zeros((H, W, 3), np.uint8)
    red[SQUARE > 0] = (220, 10, 0)
    aa = SQUARE.copy()
    aa[H // 4 - 1, W // 4:3 * W // 4] = 90     # anti-aliased edge rows: outside the square (→ 0) ...
    aa[H // 4, W // 4:3 * W // 4] = 170        # ... and its first row (→ 255)
    return {"0/255": (SQUARE, None), "0/1": ((SQUARE // 255).astype(np.uint8), "two-level mask 0/1"),
            "16-bit 0/1": ((SQUARE // 255).astype(np.uint16), "two-level mask 0/1"),
            "16-bit 0/65535": (SQUARE.astype(np.uint16) * 257, None),
            "alpha only": (rgba, "read from its alpha channel"),
            "red on black": (red, "colour mask read as object = #dc0a00"),
            "anti-aliased": (aa, "binarised at 127 (64 pixels changed)")}


@pytest.mark.parametrize("name", sorted(_good_masks()))
def test_mask_rule_accepts_two_level_masks_and_says_what_it_did(name: str, tmp_path: Path) -> None:
    from singanseg_core.files.pairs import read_mask

    array, note = _good_masks()[name]
    path = _save(tmp_path / "m.png", array)
    read = read_mask(path)
    assert (read.mask == SQUARE).all(), name
    assert (note in " ".join(read.notes)) if note else not read.notes
    assert (load_binary_mask(path) == (SQUARE > 0)).all()       # segmentation reads masks by the same rule
    assert (load_mask(path) == (SQUARE > 0)).all()              # and so do the statistics


def test_jpeg_compressed_mask_is_accepted(tmp_path: Path) -> None:
    """Kvasir-SEG ships its masks as JPEGs: compression noise near black and white is not 'grey'."""
    from singanseg_core.files.pairs import read_mask

    blob = np.zeros((H, W), np.uint8)
    yy, xx = np.mgrid[:H, :W]
    blob[(yy - 24) ** 2 + (xx - 30) ** 2 < 15 ** 2] = 255
    path = _save(tmp_path / "m.jpg", np.dstack([blob] * 3), quality=70)
    read = read_mask(path)
    assert abs(int((read.mask > 0).sum()) - int((blob > 0).sum())) < 40


@pytest.mark.parametrize("name, words", [("red-on-navy", "colour mask with the colours #000080, #dc0000"),
                                         ("photo", "not a two-level mask"),
                                         ("3-class labels", "multi-class label image")])
def test_mask_rule_refuses_what_it_cannot_read_everywhere(name: str, words: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    mask = hostile.bad_masks(H, W)[name]
    image = hostile.textured_image(H, W)
    img_path, mask_path = _save(tmp_path / "i.png", image), _save(tmp_path / "m.png", mask)
    with pytest.raises(InputError, match=words):                                   # the core
        load_pair(img_path, mask_path)
    assert main(["train", "--image", str(img_path), "--mask", str(mask_path), "--out", str(tmp_path / "ck"),
                 "--preset", "tiny", "--device", "cpu"]) == 1                     # the CLI
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "m.png" in err[0]
    assert not (tmp_path / "ck").exists()
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(InputError, match=words):                                   # uploads
        ws.add_pairs("d", [("x.png", hostile.png_bytes(image), hostile.png_bytes(mask))])
    with pytest.raises(InputError, match=words):                                   # zips
        ws.import_zip(make_zip({"images/x.png": hostile.png_bytes(image),
                                "masks/x.png": hostile.png_bytes(mask)}), "z")
    assert ws.list_datasets() == [] and not any((ws.datasets / "d" / "images").glob("*"))
    with pytest.raises(InputError, match=words):                                   # statistics
        load_mask(mask_path)


def test_empty_and_full_masks_are_reported(tmp_path: Path) -> None:
    image = _save(tmp_path / "i.png", hostile.textured_image(H, W))
    for value, words in ((0, "the mask is empty"), (255, "covers the whole image")):
        pair = load_pair(image, _save(tmp_path / f"m{value}.png", np.full((H, W), value, np.uint8)))
        assert any(words in n for n in pair.notes)
    result = Workspace(tmp_path / "ws").add_pairs("d", [("e.png", hostile.png_bytes(hostile.textured_image(H, W)),
                                                         hostile.png_bytes(np.zeros((H, W), np.uint8)))])
    assert result.written == ["e"] and any("the mask is empty" in n for n in result.notes)


def test_sixteen_bit_grey_images_are_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 65535, W).astype(np.uint16), (H, 1))
    pair = load_pair(_save(tmp_path / "i.png", ramp), _save(tmp_path / "m.png", SQUARE))
    assert pair.image[0, 0, 0] == 0 and pair.image[0, -1, 0] == 255 and 100 < pair.image.mean() < 155
    ws = Workspace(tmp_path / "ws")
    folder, _ = ws.add_pairs("d", [("r.png", (tmp_path / "i.png").read_bytes(), hostile.png_bytes(SQUARE))])
    stored = np.asarray(Image.open(folder / "images" / "r.png"))
    assert stored.shape == (H, W, 3) and 100 < stored.mean() < 155   # not clipped to white


def test_exif_rotated_photo_is_turned_upright_in_core_and_uploads(tmp_path: Path) -> None:
    """A phone JPEG stored sideways with EXIF orientation: read upright, so it matches its upright mask."""
    upright = np.zeros((H, W, 3), np.uint8)
    upright[:, : W // 2] = 255          # left half white when viewed upright
    jpeg = hostile.exif_rotated_jpeg(upright)
    assert Image.open(io.BytesIO(jpeg)).size == (H, W)   # stored sideways
    (tmp_path / "i.jpg").write_bytes(jpeg)
    pair = load_pair(tmp_path / "i.jpg", _save(tmp_path / "m.png", SQUARE))
    assert pair.image.shape == (H, W, 3)
    assert pair.image[:, : W // 2 - 2].mean() > 240 and pair.image[:, W // 2 + 2:].mean() < 15
    folder, written = Workspace(tmp_path / "ws").add_pairs("d", [("i.jpg", jpeg, hostile.png_bytes(SQUARE))])
    stored = np.asarray(Image.open(folder / "images" / f"{written[0]}.png"))
    assert stored.shape == (H, W, 3) and stored[:, : W // 2 - 2].mean() > 240


def test_reuploading_the_same_pairs_adds_nothing(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    img, other = hostile.textured_image(H, W, 1), hostile.textured_image(H, W, 2)
    first = ws.add_pairs("d", [("a.png", hostile.png_bytes(img), hostile.png_bytes(SQUARE))])
    assert first.written == ["a"] and not first.skipped
    bmp = io.BytesIO()
    Image.fromarray(img).save(bmp, format="BMP")   # the same pixels in another format and under another name
    again = ws.add_pairs("d", [("copy.bmp", bmp.getvalue(), hostile.png_bytes(SQUARE)),
                               ("b.png", hostile.png_bytes(other), hostile.png_bytes(SQUARE)),
                               ("b-again.png", hostile.png_bytes(other), hostile.png_bytes(SQUARE)),
                               ("a.png", hostile.png_bytes(img), hostile.png_bytes(255 - SQUARE))])
    assert again.written == ["b"]
    assert [s.split(":")[0] for s in again.skipped] == ["copy.bmp", "b-again.png", "a.png"]
    assert "same image and mask as 'a'" in again.skipped[0] and "different mask" in again.skipped[2]
    assert sorted(p.name for p in (first.folder / "images").iterdir()) == ["a.png", "b.png"]
    folder, written = ws.add_pairs("d", [("c.png", hostile.png_bytes(hostile.textured_image(H, W, 3)),
                                          hostile.png_bytes(SQUARE))])  # unpacks as before
    assert folder == first.folder and written == ["c"]


def test_zip_import_decodes_every_image_and_refuses_ambiguous_names(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    img, mask = hostile.png_bytes(hostile.textured_image(H, W)), hostile.png_bytes(SQUARE)
    cases = [({"images/a.png": b"not an image at all", "masks/a.png": mask}, "images/a.png (image): not a readable"),
             ({"images/a.png": img, "masks/a.png": b"GIF89a broken"}, "masks/a.png (mask): not a readable"),
             ({"images/a b.png": img, "images/a_b.png": img, "masks/a_b.png": mask},
              "'images/a b.png' and 'images/a_b.png' both become images/a_b.png"),
             ({"images/a.png": img, "images/a.jpg": img, "masks/a.png": mask}, "'images/a.png' and 'images/a.jpg' both become"),
             ({"images/a.png": img, "images/notes.txt": b"hi", "masks/a.png": mask}, "notes.txt' is not an image")]
    for entries, words in cases:
        with pytest.raises(InputError) as err:
            ws.import_zip(make_zip(entries), "z")
        assert words in str(err.value), str(err.value)
    assert ws.list_datasets() == [] and not list(ws.datasets.iterdir())
    other = hostile.png_bytes(hostile.textured_image(H, W, 5))
    result = ws.import_zip(make_zip({"images/a.png": img, "images/dup.png": img, "images/b.png": other,
                                     "masks/a.png": mask, "masks/dup.png": mask, "masks/b.png": mask}), "z")
    assert result.pairs == 2 and result.skipped == ["images/dup.png: skipped: the same image and mask as 'a', "
                                                    "already in the dataset"]
    assert [s for s, _, _ in find_pairs(result.folder)] == ["a", "b"]


def test_two_files_with_one_stem_are_refused_not_dropped(tmp_path: Path) -> None:
    for sub in ("images", "masks"):
        (tmp_path / sub).mkdir()
    _save(tmp_path / "images" / "a.png", hostile.textured_image(H, W))
    _save(tmp_path / "images" / "a.jpg", hostile.textured_image(H, W, 1))
    _save(tmp_path / "masks" / "a.png", SQUARE)
    with pytest.raises(InputError, match="a.jpg and a.png have the same name 'a'"):
        find_pairs(tmp_path)
