"""What an uploaded file is, and its hashes: PDQ for images, vPDQ for videos, MD5/SHA-256 for exact bytes,
text for .txt.

The type comes from the file's first bytes, never from its name, so a renamed file is still recognised
and a corrupt one gets a clear error instead of a wrong hash.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from shieldwall.match.errors import ItemError
from shieldwall.match.signals import SignalType

DEFAULT_MAX_FILE_BYTES = int(os.environ.get("SHIELDWALL_MATCH_MAX_FILE_BYTES", str(8 * 1024 * 1024)))
MAX_IMAGE_PIXELS = 80_000_000
PDQ_IMAGE_TYPES = ("jpeg", "png", "webp")
VIDEO_TYPES = ("mp4", "webm", "avi")  # MP4 and QuickTime, WebM and Matroska, AVI
EXACT_ONLY_TYPES = ("gif", "pdf")
ACCEPTED = "JPEG, PNG, WebP (PDQ + exact hashes); MP4, MOV, WebM, MKV, AVI (vPDQ + exact); GIF, PDF (exact); UTF-8 text"


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[4:8] == b"ftyp":
        return "mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "avi"
    if data.startswith(b"%PDF-"):
        return "pdf"
    if b"\x00" not in data[:4096]:
        try:
            data.decode("utf-8")
            return "text"
        except UnicodeDecodeError:
            return None
    return None


@dataclass
class HashedFile:
    name: str
    kind: str
    size: int
    hashes: dict[SignalType, str] = field(default_factory=dict)
    quality: int | None = None  # PDQ quality 0..100; under 50 the hash is unreliable
    text: str | None = None
    note: str = ""  # why a hash a file of its kind would have is missing (video hashing not installed...)


def pdq_of_image(name: str, data: bytes) -> tuple[str, int]:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                rgb = image.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ItemError(name, f"image is larger than {MAX_IMAGE_PIXELS:,} pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ItemError(name, f"corrupt or truncated image ({error})") from None
    return pdq_of_array(np.asarray(rgb))


def pdq_of_array(rgb: np.ndarray) -> tuple[str, int]:
    import pdqhash

    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb, dtype=np.uint8))
    # Bit 0 is the most significant: the same hex as python-threatexchange and HMA.
    return np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality)


def hash_file(name: str, data: bytes, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> HashedFile:
    if not data:
        raise ItemError(name, "file is empty")
    if len(data) > max_bytes:
        raise ItemError(name, f"file is {len(data):,} bytes, over the limit of {max_bytes:,} bytes")
    kind = sniff(data)
    if kind is None:
        raise ItemError(name, f"unsupported file type; accepted: {ACCEPTED}")
    result = HashedFile(name=name, kind=kind, size=len(data))
    result.hashes[SignalType.MD5] = hashlib.md5(data, usedforsecurity=False).hexdigest()
    result.hashes[SignalType.SHA256] = hashlib.sha256(data).hexdigest()
    if kind in PDQ_IMAGE_TYPES:
        result.hashes[SignalType.PDQ], result.quality = pdq_of_image(name, data)
    elif kind in VIDEO_TYPES:
        from shieldwall.match.video import vpdq_of_video

        try:
            result.hashes[SignalType.VPDQ] = vpdq_of_video(name, data)
        except ItemError as error:  # the exact hashes still match; say why there is no vPDQ
            result.note = error.message
    elif kind == "text":
        result.text = data.decode("utf-8")
    return result
