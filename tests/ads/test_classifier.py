"""The political-ad classifier: trained from labelled seeds, evaluated on a held-out split, used by the
archive to flag ads that look political but were not declared."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shieldwall.ads.classifier import PoliticalClassifier, load_labelled, train_and_evaluate
from shieldwall.ads.importing import import_files
from shieldwall.ads.labels import label_content
from shieldwall.ads.search import AdFilters, search_ads
from shieldwall.cli import app
from shieldwall.store.db import Database
from tests.ads.conftest import meta_ad, write_meta

SUBSET = 600  # per class and locale: enough to learn, quick enough for CI


def seeds(shared_data: Path, locale: str) -> dict[str, list[str]]:
    data = json.loads((shared_data / "ads" / "political-classifier-seeds" / f"{locale}.json").read_text())
    # A seeded shuffle: the files are grouped by page, and the first texts would all be one advertiser's.
    rng = random.Random(11)
    return {label: rng.sample(texts, len(texts)) for label, texts in data.items()}


def subset(shared_data: Path, locale: str, tmp_path: Path) -> Path:
    data = seeds(shared_data, locale)
    small = {"political": data["political"][:SUBSET], "not_political": data["not_political"][:SUBSET]}
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
    tmp = tmp_path_factory.mktemp("seeds")
    datasets = [
        (p.stem, *load_labelled(p)) for p in (subset(shared_data, "en-CA", tmp), subset(shared_data, "fi-FI", tmp))
    ]
    trained, evaluations = train_and_evaluate(datasets)
    for evaluation in evaluations:
        assert evaluation.f1 > 0.8, evaluation.line()
    return trained


def test_model_round_trips_through_a_file_without_pickle(
    model: PoliticalClassifier, unseen: dict[str, list[str]], tmp_path: Path
) -> None:
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = PoliticalClassifier.load(path)
    texts = unseen["political"] + unseen["not_political"]
    assert loaded.scores(texts) == pytest.approx(model.scores(texts), abs=1e-5)
    predicted = loaded.predict(texts).tolist()
    assert sum(predicted[:20]) >= 16 and sum(predicted[20:]) <= 4
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"bad.npz"):
        PoliticalClassifier.load(tmp_path / "bad.npz")


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
    seeds = [str(subset(shared_data, locale, tmp_path)) for locale in ("nl-BE", "it-IT")]
    result = CliRunner().invoke(app, ["ads", "train", *seeds, "-o", str(tmp_path / "model.npz")])
    assert result.exit_code == 0, result.output
    assert "nl-BE: precision" in result.output and "it-IT: precision" in result.output and "F1" in result.output
    assert (tmp_path / "model.npz").is_file()
    assert (tmp_path / "data" / "ads" / "political-model.npz").is_file()  # installed for imports and labels
