"""Image token counts for the Qwen-VL family, and images read for Tinker."""

import pytest

from distilleval.backends.tinker.images import image_from_bytes, load_image, qwen_vl_image_tokens
from distilleval.errors import DataError


@pytest.mark.parametrize(
    "width, height, tokens",
    # the cookbook's regression figures for the Qwen3-VL processor (min 65,536 px: small images grow)
    [(224, 224, 64), (150, 224, 70), (224, 150, 70), (400, 300, 108)],
)
def test_token_counts_match_the_processor(width, height, tokens):
    assert qwen_vl_image_tokens(width, height) == tokens


def test_huge_images_are_scaled_down_to_the_pixel_cap():
    # 8192 x 8192 = 67M px > 16,777,216: scaled to 4096 x 4096 -> (4096/32)^2 tokens
    assert qwen_vl_image_tokens(8192, 8192) == 128 * 128


def test_image_file_is_read_with_format_and_tokens(tmp_path):
    from PIL import Image

    Image.new("RGB", (400, 300)).save(tmp_path / "a.jpg")
    image = load_image(tmp_path / "a.jpg", where="train.jsonl:3: messages[0].content[1].path")
    assert (image.format, image.tokens) == ("jpeg", 108)
    assert image.data == (tmp_path / "a.jpg").read_bytes()


def test_unreadable_or_unsupported_images_name_where(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(DataError, match=r"^x.jsonl:2: f: .*notes.png is not a readable image$"):
        load_image(tmp_path / "notes.png", where="x.jsonl:2: f")
    with pytest.raises(DataError, match=r"^x.jsonl:2: f: cannot read image"):
        load_image(tmp_path / "missing.png", where="x.jsonl:2: f")
    from PIL import Image

    Image.new("RGB", (10, 10)).save(tmp_path / "a.gif")
    with pytest.raises(DataError, match="is a GIF image; Tinker takes PNG or JPEG"):
        image_from_bytes((tmp_path / "a.gif").read_bytes(), source="a.gif", where="w")
