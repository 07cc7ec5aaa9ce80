"""Reused media: PDQ hashes within a Hamming distance are the same picture (re-encoded, resized...).

Groups are the connected components of "within max_distance", found exactly by the PDQ index that match
uses too (shieldwall.pdq).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shieldwall.pdq import components, hex_to_bytes


def media_groups(hashes: pa.Array, *, max_distance: int) -> np.ndarray:
    """A group id per hash (index of the group's smallest member); equal ids mean the same picture."""
    n = len(hashes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    encoded = pc.dictionary_encode(hashes)
    unique = encoded.dictionary
    # The shared exact index (shieldwall.pdq): every pair within max_distance is linked, however far apart.
    label = components(hex_to_bytes(pc.utf8_lower(unique).to_pylist()), max_distance)
    return label[encoded.indices.to_numpy()]
