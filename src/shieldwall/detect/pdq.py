"""Reused media: PDQ hashes within a Hamming distance are the same picture (re-encoded, resized...).

Candidates come from multi-index hashing (8 blocks of 32 bits: two hashes within distance 7 share a
block exactly, and in practice near copies at larger distances usually do too); every candidate is
then checked with the real 256-bit Hamming distance.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shieldwall.detect.grouping import components

_BLOCKS = 8
_MAX_BUCKET = 64  # bigger buckets (very common pictures) are linked as a chain, not all pairs


def hash_words(hashes: pa.Array) -> np.ndarray:
    """64-hex PDQ strings to an (n, 4) uint64 array."""
    text = "".join(pc.utf8_lower(hashes).to_pylist())
    hex_bytes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    digits = np.where(hex_bytes >= ord("a"), hex_bytes - ord("a") + 10, hex_bytes - ord("0")).astype(np.uint64)
    digits = digits.reshape(len(hashes), 4, 16)
    weights = np.uint64(16) ** np.arange(15, -1, -1, dtype=np.uint64)
    return (digits * weights).sum(axis=2, dtype=np.uint64)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.bitwise_count(a ^ b).sum(axis=1)


def media_groups(hashes: pa.Array, *, max_distance: int) -> np.ndarray:
    """A group id per hash (index of the group's smallest member); equal ids mean the same picture."""
    n = len(hashes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    encoded = pc.dictionary_encode(hashes)
    unique = encoded.dictionary
    words = hash_words(unique)
    blocks = (words[:, :, None] >> np.array([32, 0], dtype=np.uint64)) & np.uint64(0xFFFFFFFF)
    blocks = blocks.reshape(len(unique), _BLOCKS)
    left_parts, right_parts = [], []
    for block in range(_BLOCKS):
        keys = blocks[:, block] | (np.uint64(block) << np.uint64(40))
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        # Compare each hash with the next few in its bucket: all pairs in small buckets, a chain in big ones.
        for step in range(1, _MAX_BUCKET):
            if step >= len(order):
                break
            same = sorted_keys[step:] == sorted_keys[:-step]
            if not same.any():
                break
            left, right = order[step:][same], order[:-step][same]
            close = hamming(words[left], words[right]) <= max_distance
            left_parts.append(left[close])
            right_parts.append(right[close])
    if left_parts:
        label = components(len(unique), np.concatenate(left_parts), np.concatenate(right_parts))
    else:
        label = np.arange(len(unique), dtype=np.int64)
    return label[encoded.indices.to_numpy()]
