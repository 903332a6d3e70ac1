"""``files.uploads``: uploaded images and masks paired by stem; nothing dropped silently."""

from __future__ import annotations

import pytest

from singanseg_core.errors import InputError
from singanseg_core.files.uploads import pair_uploads, upload_stem


def test_pairs_by_stem_in_image_order_across_suffixes() -> None:
    pairs = pair_uploads([("b.jpg", b"B"), ("a.png", b"A")], [("a.png", b"ma"), ("b.png", b"mb")])
    assert pairs == [("b.jpg", b"B", b"mb", "b.png"), ("a.png", b"A", b"ma", "a.png")]
    assert upload_stem("dir\\sub/x.tar.png") == "x.tar"


@pytest.mark.parametrize("images, masks, message", [
    ([], [("a.png", b"m")], "choose at least one image"),
    ([("a.png", b"A"), ("c.jpg", b"C")], [("a.png", b"m")], "no mask with the same name for: c.jpg"),
    ([("a.png", b"A")], [("a.png", b"m"), ("zz.png", b"m")], "no image with the same name for mask(s): zz.png"),
    ([("a.png", b"A"), ("a.jpg", b"A2")], [("a.png", b"m")], "two image files share the name 'a'"),
    ([("a.png", b"A")], [("a.png", b"m"), ("a.bmp", b"m2")], "two mask files share the name 'a'"),
])
def test_refuses_what_cannot_be_paired(images, masks, message) -> None:  # noqa: ANN001
    with pytest.raises(InputError) as err:
        pair_uploads(images, masks)
    assert message in str(err.value)


def test_long_lists_are_shortened() -> None:
    images = [(f"i{k}.png", b"x") for k in range(20)]
    with pytest.raises(InputError, match=r"\(\+12 more\)"):
        pair_uploads(images, [])


def test_a_batch_with_several_problems_lists_all_of_them() -> None:
    images = [("a.png", b"A"), ("a.jpg", b"A2"), ("lonely.png", b"L")]
    masks = [("a.png", b"m"), ("orphan.png", b"o"), ("orphan.bmp", b"o2")]
    with pytest.raises(InputError) as err:
        pair_uploads(images, masks)
    text = str(err.value)
    assert "\n" not in text
    for part in ("two image files share the name 'a'", "two mask files share the name 'orphan'",
                 "no mask with the same name for: lonely.png", "no image with the same name for mask(s): orphan.png"):
        assert part in text, text
