"""Union of candidate links into groups: the shared last step of near-duplicate text and media grouping."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Group label per node 0..n-1: the smallest node index in its connected component (stable ids)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # Relabel each component by its smallest member so labels do not depend on traversal order.
    smallest = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(n, dtype=np.int64))
    return smallest[labels]


def star_pairs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(member, representative) index pairs linking every element to the first element with the same key.

    A star instead of all pairs keeps huge buckets (a stock phrase reused by thousands) linear.
    """
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    rep = order[np.flatnonzero(starts)[np.cumsum(starts) - 1]]
    mask = rep != order
    return order[mask], rep[mask]
