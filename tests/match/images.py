"""Images generated with Pillow for the tests and the demo: distinct pictures and near-duplicates."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def picture(seed: int, size: int = 256) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    image = Image.fromarray(base).resize((size, size), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.integers(0, size, 2)
        r = int(rng.integers(size // 16, size // 4))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    return image


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def near_duplicate(image: Image.Image) -> Image.Image:
    """Recompressed, resized and slightly brightened: what a re-upload of the same picture looks like."""
    smaller = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.Resampling.LANCZOS)
    brighter = Image.eval(smaller, lambda v: min(255, v + 8))
    return Image.open(io.BytesIO(encode(brighter, "JPEG", quality=70)))
