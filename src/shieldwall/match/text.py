"""Normalised text and MinHash signatures for near-duplicate text.

Normalisation (NFKC, case-fold, links and @mentions removed, punctuation to spaces, whitespace collapsed)
makes copy-pasted variants of a post identical; MinHash over character 5-grams then estimates the
Jaccard similarity of what is left, so small edits still match. Shingle hashing and the 128 hash
functions are NumPy-vectorised: one text is a few array operations, not a Python loop over shingles.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

NUM_PERMUTATIONS = 128
SHINGLE = 5
_LINKS = re.compile(r"https?://\S+|www\.\S+|@\w+")
_NON_WORD = re.compile(r"[^\w]+")
# Fixed seeds: signatures must be comparable across processes and releases.
_rng = np.random.default_rng(0x5B1E1D)
_A = (_rng.integers(1, 2**63, NUM_PERMUTATIONS, dtype=np.uint64) | np.uint64(1)).astype(np.uint64)
_B = _rng.integers(0, 2**63, NUM_PERMUTATIONS, dtype=np.uint64)
_ROLL = np.uint64(1_000_003)


class TextError(ValueError):
    pass


def normalise_text(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw).casefold()
    text = _LINKS.sub(" ", text)
    text = _NON_WORD.sub(" ", text).replace("_", " ")
    return " ".join(text.split())


def shingle_hashes(normalised: str) -> np.ndarray:
    """Distinct 32-bit hashes of the text's character 5-grams (the whole text when shorter)."""
    codes = np.frombuffer(normalised.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if codes.size == 0:
        raise TextError("text is empty after normalisation")
    width = min(SHINGLE, codes.size)
    windows = np.lib.stride_tricks.sliding_window_view(codes, width)
    powers = _ROLL ** np.arange(width, dtype=np.uint64)
    with np.errstate(over="ignore"):
        hashes = (windows * powers).sum(axis=1, dtype=np.uint64)
    return np.unique((hashes ^ (hashes >> np.uint64(29))) & np.uint64(0xFFFFFFFF))


# Shingles hashed at a time: the (shingles x 128) uint64 block is 64 MB at most, whatever the text's length
# (all at once, a text of a million distinct shingles needed a gigabyte).
_CHUNK = 65_536


def minhash(normalised: str) -> np.ndarray:
    """128 uint32 minima of multiply-shift hashes of the shingles."""
    shingles = shingle_hashes(normalised)
    minima = np.full(NUM_PERMUTATIONS, np.iinfo(np.uint64).max, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, shingles.size, _CHUNK):
            mixed = (shingles[start : start + _CHUNK, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)
            np.minimum(minima, mixed.min(axis=0), out=minima)
    return minima.astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))
