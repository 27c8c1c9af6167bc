"""Images for vision students: the bytes Tinker receives and the tokens each one occupies.

Tinker takes an image as an ``ImageChunk`` (encoded bytes, format, and the number of tokens
the model's image processor turns it into); a wrong count is refused by the service
("Expected N tokens, got M from image"), and the count is also what an image costs.

The Qwen3-VL image processor (which the Qwen3.5 / Qwen3.6 vision models share) resizes an
image so both sides are multiples of 32 (patch 16 x spatial merge 2) and its area lies
within [65,536, 16,777,216] pixels, then gives one token per 32 x 32 block::

    tokens = (height' / 32) * (width' / 32)

e.g. 224 x 224 -> 64 tokens, 150 x 224 -> 70, 400 x 300 -> 108 (the cookbook's own
regression figures for this processor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from distilleval.errors import DataError

PATCH = 16
MERGE = 2
FACTOR = PATCH * MERGE
MIN_PIXELS = 65_536
MAX_PIXELS = 16_777_216
FORMATS: dict[str | None, Literal["png", "jpeg"]] = {"PNG": "png", "JPEG": "jpeg"}


def qwen_vl_resized(height: int, width: int) -> tuple[int, int]:
    """The (height, width) the Qwen-VL image processor resizes an image to."""
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    h_bar = max(FACTOR, round(height / FACTOR) * FACTOR)
    w_bar = max(FACTOR, round(width / FACTOR) * FACTOR)
    if h_bar * w_bar > MAX_PIXELS:
        beta = math.sqrt(height * width / MAX_PIXELS)
        h_bar = max(FACTOR, math.floor(height / beta / FACTOR) * FACTOR)
        w_bar = max(FACTOR, math.floor(width / beta / FACTOR) * FACTOR)
    elif h_bar * w_bar < MIN_PIXELS:
        beta = math.sqrt(MIN_PIXELS / (height * width))
        h_bar = math.ceil(height * beta / FACTOR) * FACTOR
        w_bar = math.ceil(width * beta / FACTOR) * FACTOR
    return h_bar, w_bar


def qwen_vl_image_tokens(width: int, height: int) -> int:
    """Tokens a ``width`` x ``height`` image occupies for a Qwen3-VL-family model.

    >>> qwen_vl_image_tokens(224, 224), qwen_vl_image_tokens(150, 224), qwen_vl_image_tokens(400, 300)
    (64, 70, 108)
    """
    h_bar, w_bar = qwen_vl_resized(height, width)
    return (h_bar // PATCH) * (w_bar // PATCH) // (MERGE * MERGE)


@dataclass(frozen=True)
class ImageInput:
    """One image as Tinker receives it."""

    data: bytes
    format: Literal["png", "jpeg"]
    tokens: int
    source: str


def load_image(path: Path, *, where: str) -> ImageInput:
    """Read an image file and count its tokens.

    Args:
        path: a PNG or JPEG file.
        where: ``FILE:LINE: field`` for error messages.

    Raises:
        DataError: the file is missing, unreadable, or not a PNG/JPEG image.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"{where}: cannot read image {path} ({err.strerror or err})") from None
    return image_from_bytes(data, source=str(path), where=where)


def image_from_bytes(data: bytes, *, source: str, where: str) -> ImageInput:
    """An ``ImageInput`` from encoded bytes (PNG or JPEG).

    Raises:
        DataError: the bytes are not a PNG or JPEG image.
    """
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            width, height = image.size
    except (UnidentifiedImageError, OSError):
        raise DataError(f"{where}: {source} is not a readable image") from None
    if kind not in FORMATS:
        raise DataError(f"{where}: {source} is a {kind} image; Tinker takes PNG or JPEG")
    return ImageInput(data=data, format=FORMATS[kind], tokens=qwen_vl_image_tokens(width, height), source=source)
