"""The political-ad classifier: trained from labelled seeds, evaluated on a held-out split, used by the
archive to flag ads that look political but were not declared. Both feature paths: sentence embeddings
(the `ads` extra's encoder, trained here on small subsets to stay quick) and the character n-grams it
falls back to."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
from typer.testing import CliRunner

from shieldwall.ads import sentences
from shieldwall.ads.build_model import BUNDLED
from shieldwall.ads.classifier import (
    CHARS,
    SENTENCES,
    PoliticalClassifier,
    leave_one_out_by_path,
    load_labelled,
    train_and_evaluate,
)
from shieldwall.ads.importing import import_files
from shieldwall.ads.labels import label_content
from shieldwall.ads.search import AdFilters, search_ads
from shieldwall.ads.service import installed_scorer, scorer_source
from shieldwall.cli import app
from shieldwall.config import load_settings
from shieldwall.store.db import Database
from tests.ads.conftest import meta_ad, write_meta

SUBSET = 600  # per class and locale: enough to learn, quick enough for CI
SMALL = 100  # per class and locale where texts are embedded (about 600 a second on one thread)
TINY = 50  # per class and locale where only the plumbing is checked


def seeds(shared_data: Path, locale: str) -> dict[str, list[str]]:
    data = json.loads((shared_data / "ads" / "political-classifier-seeds" / f"{locale}.json").read_text())
    # A seeded shuffle: the files are grouped by page, and the first texts would all be one advertiser's.
    rng = random.Random(11)
    return {label: rng.sample(texts, len(texts)) for label, texts in data.items()}


def subset(shared_data: Path, locale: str, tmp_path: Path, size: int = SUBSET) -> Path:
    data = seeds(shared_data, locale)
    small = {"political": data["political"][:size], "not_political": data["not_political"][:size]}
    path = tmp_path / f"{locale}.json"
    path.write_text(json.dumps(small))
    return path


@pytest.fixture(scope="module")
def unseen(shared_data: Path) -> dict[str, list[str]]:
    """Real English texts the model never saw in training."""
    data = seeds(shared_data, "en-CA")
    return {label: texts[SUBSET : SUBSET + 20] for label, texts in data.items()}


@pytest.fixture(scope="module")
def model(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> PoliticalClassifier:
    """The character path only: the fallback, and quick to train on 2,400 texts."""
    tmp = tmp_path_factory.mktemp("seeds")
    datasets = [
        (p.stem, *load_labelled(p)) for p in (subset(shared_data, "en-CA", tmp), subset(shared_data, "fi-FI", tmp))
    ]
    trained, evaluations = train_and_evaluate(datasets, with_sentences=False)
    assert trained.sentence is None
    for evaluation in evaluations:
        assert evaluation.f1 > 0.8, evaluation.line()
    return trained


@pytest.fixture(scope="module")
def sentence_model(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> PoliticalClassifier:
    """Both paths, from 400 texts (English and Italian: languages the encoder knows)."""
    tmp = tmp_path_factory.mktemp("small")
    datasets = [
        (p.stem, *load_labelled(p)) for p in (subset(shared_data, loc, tmp, SMALL) for loc in ("en-CA", "it-IT"))
    ]
    trained, evaluations = train_and_evaluate(datasets, with_sentences=True)
    assert trained.sentence is not None and trained.scoring_path() == SENTENCES
    assert evaluations[-1].f1 > 0.75, [e.line() for e in evaluations]
    return trained


def test_model_round_trips_through_a_file_without_pickle(
    model: PoliticalClassifier, unseen: dict[str, list[str]], tmp_path: Path
) -> None:
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = PoliticalClassifier.load(path)
    texts = unseen["political"] + unseen["not_political"]
    assert loaded.scores(texts) == pytest.approx(model.scores(texts), abs=1e-3)  # weights kept in half precision
    predicted = loaded.predict(texts).tolist()
    assert sum(predicted[:20]) >= 16 and sum(predicted[20:]) <= 4
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"bad.npz"):
        PoliticalClassifier.load(tmp_path / "bad.npz")


def test_a_sentence_model_round_trips_and_reads_a_language_it_never_saw(
    sentence_model: PoliticalClassifier, unseen: dict[str, list[str]], tmp_path: Path
) -> None:
    path = tmp_path / "m.npz"
    sentence_model.save(path)
    with np.load(path, allow_pickle=False) as data:  # plain arrays only
        assert {"sentence_coef", "sentence_chars", "index", "weight"} <= set(data.files)
    loaded = PoliticalClassifier.load(path)
    assert loaded.sentence is not None and loaded.scoring_path() == SENTENCES
    texts = unseen["political"] + unseen["not_political"]
    assert loaded.scores(texts) == pytest.approx(sentence_model.scores(texts), abs=2e-3)  # n-grams in half precision
    # Trained on English and Italian only; German and Dutch it never saw.
    political = [
        "Gehen Sie am Sonntag wählen: für gerechte Renten und bezahlbare Mieten.",
        "Stem op 26 mei voor Groen!",
    ]
    commercial = ["Jetzt 30% Rabatt auf alle Sneaker, kostenloser Versand!", "Bestel vandaag, morgen in huis."]
    scores = loaded.scores(political + commercial)
    assert min(scores[:2]) > max(scores[2:]), scores


def test_without_the_encoder_a_sentence_model_scores_with_characters_and_says_so_once(
    sentence_model: PoliticalClassifier, unseen: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:  # fmt: skip
    path = tmp_path / "m.npz"
    sentence_model.save(path)
    texts = unseen["political"] + unseen["not_political"]
    expected = sentence_model.path_scores(texts, CHARS)
    monkeypatch.setattr(sentences, "installed", lambda: False)
    monkeypatch.setattr(sentences, "_told", False)
    with caplog.at_level(logging.WARNING, logger=sentences.__name__):
        loaded = PoliticalClassifier.load(path)
        assert loaded.scoring_path() == CHARS
        assert loaded.scores(texts) == pytest.approx(expected, abs=1e-3)
        loaded.scores(["another text"])
    notices = [r.getMessage() for r in caplog.records]
    assert len(notices) == 1 and sentences.PACKAGE in notices[0] and "shieldwall[ads]" in notices[0], notices
    assert "\n" not in notices[0]


def test_texts_already_scored_are_not_embedded_again(
    sentence_model: PoliticalClassifier, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sentence_model.save(tmp_path / "m.npz")
    model = PoliticalClassifier.load(tmp_path / "m.npz")
    embedded: list[int] = []
    real = sentences.embed

    def counting(texts: list[str]) -> np.ndarray:
        embedded.append(len(texts))
        return real(texts)

    monkeypatch.setattr(sentences, "embed", counting)
    first = model.scores(["Vote on Sunday", "Shoes on sale", "Vote on Sunday"])
    again = model.scores(["Shoes on sale", "Vote on Sunday", "Lower taxes now"])
    assert embedded == [2, 1]  # each distinct text once
    assert first[0] == first[2] == again[1] and first[1] == again[0]
    assert model.scores([]).shape == (0,)


def test_what_the_encoder_reads() -> None:
    text = "Vote  Jane Roe\n https://graph.facebook.com//janeroe/ www.example.org " + "x" * 5000
    prepared = sentences.prepare(text)
    assert prepared.startswith("Vote Jane Roe x") and "facebook" not in prepared and "example" not in prepared
    assert len(prepared) == sentences.MAX_CHARS
    assert sentences.embed([]).shape == (0, sentences.DIM)
    vectors = sentences.embed(["", "Vote!"] * 200)  # more than one batch, and an empty text
    assert vectors.shape == (400, sentences.DIM) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)


def test_one_class_training_data_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "only.json"
    path.write_text(json.dumps({"political": ["vote", "elect me"], "not_political": []}))
    with pytest.raises(ValueError, match="both political and not-political"):
        train_and_evaluate([("only", *load_labelled(path))])


def test_archive_flags_undeclared_political_ads(
    model: PoliticalClassifier, unseen: dict[str, list[str]], database: Database, tmp_path: Path
) -> None:
    political = next(t for t in unseen["political"] if model.scores([t])[0] > 0.9)
    commercial = next(t for t in unseen["not_political"] if model.scores([t])[0] < 0.1)
    neutral = {"bylines": "Some Page", "page_name": "Some Page"}
    ads = [
        meta_ad("declared", ad_creative_bodies=[political], **neutral),
        meta_ad("sneaky", declared_political=False, ad_creative_bodies=[political], **neutral),
        meta_ad("shoes", declared_political=False, ad_creative_bodies=[commercial], **neutral),
    ]
    import_files(database, [write_meta(tmp_path / "a.json", ads)], "meta", scorer=model.scores)
    with database.session() as session:
        flagged = [a.platform_ad_id for a in search_ads(session, AdFilters(undeclared_political=True)).ads]
        label = label_content(
            publisher="Deals", is_paid=True, paid_by="Deals Inc", text=political,
            scorer=model.scores, session=session,
        )  # fmt: skip
    assert flagged == ["sneaky"]
    assert label.label == "undeclared_political"


def test_labels() -> None:
    assert label_content(publisher="Daily News", is_paid=False).label == "news"
    political = label_content(
        publisher="Jane Roe", is_paid=True, paid_by="Friends of Jane Roe", declared_political=True
    )
    assert (political.label, political.display) == ("political_ad", "Paid for by Friends of Jane Roe")
    assert label_content(publisher="Shoes", is_paid=True, paid_by="Shoes Ltd").display == "Sponsored by Shoes Ltd"


@pytest.mark.slow
def test_train_command_prints_held_out_figures(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(tmp_path / "data"))
    seeds = [str(subset(shared_data, locale, tmp_path, TINY)) for locale in ("nl-BE", "it-IT")]
    result = CliRunner().invoke(app, ["ads", "train", *seeds, "-o", str(tmp_path / "model.npz")])
    assert result.exit_code == 0, result.output
    assert "nl-BE: precision" in result.output and "it-IT: precision" in result.output and "F1" in result.output
    assert (tmp_path / "model.npz").is_file()
    assert (tmp_path / "data" / "ads" / "political-model.npz").is_file()  # installed for imports and labels


def test_a_model_ships_with_the_package_and_scores_in_every_language(tmp_path: Path) -> None:
    settings = load_settings(data_dir=str(tmp_path / "data"))
    assert scorer_source(settings) == BUNDLED and BUNDLED.stat().st_size < 2_000_000
    assert PoliticalClassifier.load(BUNDLED).scoring_path() == SENTENCES  # the encoder comes with `ads`
    scorer = installed_scorer(settings)
    assert scorer is not None
    political = [
        "Vote for Jane Roe on election day: lower taxes, better schools.",
        "Am Sonntag wählen gehen: für eine gerechte Rentenpolitik!",
        "Äänestä eduskuntavaaleissa sunnuntaina, ehdokkaasi numero 123.",
        "Votez le 11 avril pour une France plus juste.",
    ]
    commercial = ["New sneakers, 30% off with free shipping this weekend only!", "Book your summer holiday now."]
    scores = scorer(political + commercial)
    assert all(s >= 0.5 for s in scores[: len(political)]), scores
    assert all(s < 0.5 for s in scores[len(political) :]), scores


def test_a_model_from_before_the_concept_features_still_loads(tmp_path: Path) -> None:
    import numpy as np
    import orjson

    path = tmp_path / "old.npz"
    meta = orjson.dumps({"n_features": 2**20, "ngrams": [2, 5], "analyzer": "char_wb"})
    with path.open("wb") as handle:
        np.savez_compressed(
            handle, index=np.array([1, 2], dtype=np.int32), weight=np.array([0.5, -0.5], dtype=np.float32),
            intercept=np.array([0.1]), threshold=np.array([0.5]), meta=np.frombuffer(meta, dtype=np.uint8),
        )  # fmt: skip
    old = PoliticalClassifier.load(path)
    assert len(old.coef) == 2**20 and old.scores(["vote"]).shape == (1,)


@pytest.mark.slow
def test_leave_one_locale_out(shared_data: Path, tmp_path: Path) -> None:
    datasets = [
        (p.stem, *load_labelled(p))
        for p in (subset(shared_data, loc, tmp_path, TINY) for loc in ("en-CA", "fi-FI", "it-IT"))
    ]
    by_path = leave_one_out_by_path(datasets, with_sentences=True)
    assert set(by_path) == {CHARS, SENTENCES}
    for evaluations in by_path.values():
        assert [e.name for e in evaluations] == ["en-CA", "fi-FI", "it-IT"]
        assert all(0.0 < e.f1 <= 1.0 for e in evaluations), [e.line() for e in evaluations]


def test_the_classifier_reads_the_ad_as_written_not_the_folded_search_text() -> None:
    from shieldwall.ads.document import classifier_text, search_text

    doc = {"page_name": "Kokoomus", "payer_name": "Puolue ry", "body": "Äänestä  sunnuntaina!\nNumero 123."}
    assert classifier_text(doc) == "Kokoomus Puolue ry Äänestä sunnuntaina! Numero 123."
    assert search_text(doc) == "kokoomus puolue ry aanesta sunnuntaina numero 123"  # what search matches


def test_a_model_write_that_fails_midway_leaves_the_old_model_whole(
    model: PoliticalClassifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the disk fills while the new model is written; imports keep reading the old one."""
    path = tmp_path / "political-model.npz"
    model.save(path)
    before = path.read_bytes()

    def full_disk(handle: BinaryIO, **arrays: object) -> None:
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full_disk)
    with pytest.raises(OSError, match="No space left"):
        model.save(path)
    assert path.read_bytes() == before and PoliticalClassifier.load(path).scores(["vote"]).shape == (1,)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["political-model.npz"]  # no partial file left
