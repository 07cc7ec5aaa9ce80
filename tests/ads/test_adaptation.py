"""Adapting the classifier to a locale it never saw, from that locale's unlabelled ads: the module on real
seed texts, and `shieldwall ads adapt` through the real command line and database."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import and_, select
from typer.testing import CliRunner

from shieldwall.ads.adaptation import adapt, adapt_texts
from shieldwall.ads.classifier import CHARS, Corpus, PoliticalClassifier, evaluate_predictions, language_of
from shieldwall.ads.document import classifier_text
from shieldwall.ads.tables import Ad, AdVersion
from shieldwall.cli import app
from shieldwall.store.db import Database
from tests.ads.conftest import meta_ad, write_meta
from tests.ads.test_classifier import seeds

TRAINED = ("en-CA", "de-CH", "it-IT")


def said(result: object) -> str:
    return " ".join(str(getattr(result, "output", "")).split())  # Rich wraps long lines


def labelled(shared_data: Path, locale: str, size: int) -> tuple[list[str], np.ndarray]:
    data = seeds(shared_data, locale)
    political, not_political = data["political"][:size], data["not_political"][:size]
    return political + not_political, np.array([1] * len(political) + [0] * len(not_political), dtype=np.int8)


@pytest.fixture(scope="module")
def model(shared_data: Path) -> PoliticalClassifier:
    """The character path (quick and deterministic), trained on three locales; Finnish is not one."""
    texts: list[str] = []
    labels, groups = [], []
    for locale in TRAINED:
        own, own_labels = labelled(shared_data, locale, 600)
        texts += own
        labels.append(own_labels)
        groups += [language_of(locale)] * len(own)
    return PoliticalClassifier.fit(Corpus.of(texts, with_sentences=False), np.concatenate(labels), groups)


def test_adapting_to_an_unseen_locale_raises_f1_without_its_labels(
    model: PoliticalClassifier, shared_data: Path, tmp_path: Path
) -> None:
    texts, truth = labelled(shared_data, "fi-FI", 1000)
    corpus = Corpus.of(texts, with_sentences=False)
    before = evaluate_predictions("fi-FI", truth, model.corpus_predict(corpus, CHARS))
    adaptation = adapt(model, corpus)  # the labels are never passed
    after = evaluate_predictions("fi-FI", truth, adaptation.model.corpus_predict(corpus, CHARS))
    assert after.f1 >= before.f1 + 0.05, (before.line(), after.line())
    assert adaptation.ads == len(texts) and adaptation.changed > 0
    political, not_political = adaptation.provisional[CHARS]
    assert political >= 100 and not_political >= 100
    path = tmp_path / "adapted.npz"
    adaptation.model.save(path)
    loaded = PoliticalClassifier.load(path)
    assert loaded.adapted_to == len(texts)
    assert loaded.corpus_scores(corpus, CHARS) == pytest.approx(
        adaptation.model.corpus_scores(corpus, CHARS), abs=2e-3
    )  # half-precision weights


def test_a_library_of_political_ads_only_keeps_its_recall(model: PoliticalClassifier, shared_data: Path) -> None:
    """Self-training splits what it is given; on ads that are all political it must not invent a
    not-political half (the Snap and Meta political-ad libraries are such archives)."""
    texts = seeds(shared_data, "de-DE")["political"][:1500]
    corpus = Corpus.of(texts, with_sentences=False)
    truth = np.ones(len(texts), dtype=np.int8)
    before = evaluate_predictions("de-DE", truth, model.corpus_predict(corpus, CHARS)).recall
    try:
        adapted = adapt(model, corpus).model
    except ValueError as refused:
        assert "confidently not" in str(refused)
        return
    assert evaluate_predictions("de-DE", truth, adapted.corpus_predict(corpus, CHARS)).recall >= before - 0.03


def test_too_few_ads_are_refused_with_the_count(model: PoliticalClassifier) -> None:
    with pytest.raises(ValueError, match="at least 200 distinct ad texts of the new locale; found 3"):
        adapt_texts(model, ["Vote Jane", "Vote Jane", "Buy shoes", "Summer sale", "  "])


def test_adapt_command_learns_from_the_archive_and_never_compounds(
    model: PoliticalClassifier,
    shared_data: Path,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", database_url)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(data_dir))
    runner = CliRunner()
    refused = runner.invoke(app, ["ads", "adapt", "--country", "FI"])
    assert refused.exit_code == 2 and "found 0" in said(refused)
    damaged = data_dir / "ads" / "political-model.npz"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not a model")
    broken = runner.invoke(app, ["ads", "adapt", "--country", "FI"])
    assert broken.exit_code == 2 and "not a Shieldwall political-ad model" in said(broken), broken.output
    damaged.unlink()
    texts, _ = labelled(shared_data, "fi-FI", 150)
    ads = [
        meta_ad(f"fi{i}", ad_creative_bodies=[text], ad_reached_countries=["FI"], bylines="", page_name=f"Sivu {i}")
        for i, text in enumerate(texts)
    ]
    imported = runner.invoke(app, ["ads", "import", str(write_meta(tmp_path / "fi.json", ads))])
    assert imported.exit_code == 0, imported.output
    installed = data_dir / "ads" / "political-model.npz"
    kept = installed.with_name("political-model.before-adaptation.npz")

    first = runner.invoke(app, ["ads", "adapt", "--country", "fi"])
    assert first.exit_code == 0, first.output
    assert "adapted to 300 distinct ad texts from political.npz" in said(first)  # the bundled model
    assert "embedding the newest 300 ads" in said(first)  # the long part shows its progress
    assert "rechecked 300 ads" in said(first) and "rechecking" in said(first) and "300/300" in said(first)
    assert PoliticalClassifier.load(installed).adapted_to == 300 and not kept.exists()
    # The rescore reused the adaptation's embeddings; what it stored is what the installed model says afresh.
    database = Database(database_url)
    try:
        with database.session() as session:
            stored = session.execute(
                select(Ad.political_score, AdVersion.document).join(
                    AdVersion, and_(AdVersion.ad_id == Ad.id, AdVersion.version == Ad.version)
                )
            ).all()
    finally:
        database.dispose()
    fresh = PoliticalClassifier.load(installed).scores([classifier_text(doc) for _, doc in stored])
    assert [score for score, _ in stored] == pytest.approx(fresh.tolist(), abs=1e-5)
    again = runner.invoke(app, ["ads", "adapt", "--country", "FI", "--no-recheck"])
    assert "from political.npz" in said(again), again.output  # from the bundled model again, not the adapted one

    model.save(installed)  # a model trained here: adapting keeps it aside as the base
    local = runner.invoke(app, ["ads", "adapt", "--country", "FI", "--no-recheck"])
    assert local.exit_code == 0, local.output
    assert "from political-model.npz" in said(local) and kept.is_file()
    assert PoliticalClassifier.load(kept).adapted_to == 0
    later = runner.invoke(app, ["ads", "adapt", "--country", "FI", "--no-recheck"])
    assert "from political-model.before-adaptation.npz" in said(later), later.output
