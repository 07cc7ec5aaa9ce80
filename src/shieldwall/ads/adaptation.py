"""Adapting the political-ad classifier to a new locale from that locale's own ads, unlabelled.

A model trained on other locales reads a new one through what carries across languages (sentence
embeddings, the concept lexicon); the new locale's own words carry no weight in it, and Finnish or Dutch
ads are where it is least sure. Self-training gives those words weight without anyone labelling an ad:
score the locale's ads, take the most confident share on each side as provisional labels, fit a logistic
regression over the ads' character n-grams to them, and average its margin with the model's; then again
from the mixed scores, three rounds. The model's own margin stays in every round, so the provisional
labels cannot drift far from what was learned with real labels.

The two margins' mean is itself one linear model over the same features, so an adapted model saves,
loads and scores like any other (`ads adapt` writes it where `ads train` does).

On the seed locales (bench/ads_classifier.py: train on seven, adapt to the eighth's ads without their
labels, score them) per-ad F1 rises from 0.70 to 0.81 on the worst locale and from 0.82 to 0.87 on
average; settings from a grid of four, every cell reported there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from shieldwall.ads.classifier import CHARS, SENTENCES, Corpus, PoliticalClassifier

SHARE = 0.3  # the most confident share of the ads on each side taken as provisional labels ...
CONFIDENT = 0.7  # ... if scored at least this sure (a library of political ads only then adapts harmlessly)
ROUNDS = 3
C = 3.0  # the locale model's inverse regularisation
MIN_ADS = 200  # distinct ad texts below which a locale model would learn its noise
MIN_SIDE = 20  # provisional labels each side needs


@dataclass
class Adaptation:
    model: PoliticalClassifier
    ads: int  # distinct texts it adapted to
    provisional: dict[str, tuple[int, int]]  # path -> (political, not political) provisional labels, last round
    changed: int  # texts whose label changed on the path the model scores with here
    corpus: Corpus  # the texts with their features, to score them again without embedding them again


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


@dataclass(frozen=True)
class Settings:
    share: float = SHARE
    confident: float = CONFIDENT


def _locale_model(corpus: Corpus, scores: np.ndarray, settings: Settings) -> tuple[np.ndarray, float, int, int]:
    """A logistic regression over the corpus's character n-grams, fitted to its most confident scores:
    (weights, intercept, political, not political). Unweighted: a locale whose ads are nearly all political
    keeps its few provisional negatives few, rather than having them weigh as much as the rest."""
    from sklearn.linear_model import LogisticRegression

    order = np.argsort(scores, kind="stable")
    take = int(settings.share * len(scores))
    political = order[len(order) - take :]
    political = political[scores[political] >= settings.confident]
    not_political = order[:take]
    not_political = not_political[scores[not_political] <= 1 - settings.confident]
    if min(len(political), len(not_political)) < MIN_SIDE:
        raise ValueError(
            f"the model scores nearly all of these {len(scores)} ads on one side ({len(political)} confidently "
            f"political, {len(not_political)} confidently not); adaptation needs at least {MIN_SIDE} of each"
        )
    rows = np.concatenate([political, not_political])
    labels = np.r_[np.ones(len(political)), np.zeros(len(not_political))]
    fitted = LogisticRegression(C=C, max_iter=1000).fit(corpus.chars[rows], labels)
    return fitted.coef_.ravel(), float(fitted.intercept_[0]), len(political), len(not_political)


def _self_train(corpus: Corpus, start: np.ndarray, settings: Settings) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The last round's locale model (weights, intercept) and its provisional label counts."""
    base = _logit(start)
    scores = np.asarray(start, dtype=np.float64)
    weights, intercept, counts = np.zeros(corpus.chars.shape[1]), 0.0, (0, 0)
    for _ in range(ROUNDS):
        weights, intercept, political, not_political = _locale_model(corpus, scores, settings)
        counts = (political, not_political)
        margin = np.asarray(corpus.chars @ weights).ravel() + intercept
        scores = 1.0 / (1.0 + np.exp(-(0.5 * base + 0.5 * margin)))
    return weights, intercept, counts


def _enough(ads: int) -> None:
    if ads < MIN_ADS:
        raise ValueError(f"adaptation needs at least {MIN_ADS:,} distinct ad texts of the new locale; found {ads:,}")


def adapt(model: PoliticalClassifier, corpus: Corpus, settings: Settings = Settings()) -> Adaptation:
    """The model adapted to the corpus's ads, on every path both have (features computed once). The path
    it scores with (sentences when the corpus has embeddings) must adapt; the character fallback adapts
    too when it can, and stays as it was when it is too unsure of these ads to have provisional labels."""
    _enough(len(corpus.texts))
    if len(model.coef) != corpus.chars.shape[1]:
        raise ValueError("this model was built with other character features; train it again (`ads train`)")
    head = model.sentence
    path = SENTENCES if head is not None and corpus.embeddings is not None else CHARS
    provisional: dict[str, tuple[int, int]] = {}
    coef: np.ndarray = model.coef  # the character head as it was, unless it adapts below
    intercept, dense = model.intercept, model.dense
    try:
        weights, locale_intercept, provisional[CHARS] = _self_train(
            corpus, model.corpus_scores(corpus, CHARS), settings
        )
    except ValueError:
        if path == CHARS:
            raise
    else:
        coef = 0.5 * model.coef + 0.5 * weights / model.char_weight
        intercept, dense = 0.5 * (model.intercept + locale_intercept), 0.5 * model.dense
    if head is not None and path == SENTENCES:
        weights, locale_intercept, provisional[SENTENCES] = _self_train(
            corpus, model.corpus_scores(corpus, SENTENCES), settings
        )
        head = replace(
            head,
            coef=0.5 * head.coef,
            dense=0.5 * head.dense,
            chars=0.5 * head.chars + 0.5 * weights,
            intercept=0.5 * (head.intercept + locale_intercept),
        )
    adapted = PoliticalClassifier(
        coef,
        intercept,
        model.threshold,
        dense=dense,
        char_weight=model.char_weight,
        dense_weight=model.dense_weight,
        sentence=head,
        adapted_to=len(corpus.texts),
    )
    changed = int(np.count_nonzero(model.corpus_predict(corpus, path) != adapted.corpus_predict(corpus, path)))
    return Adaptation(adapted, len(corpus.texts), provisional, changed, corpus)


def adapt_texts(
    model: PoliticalClassifier, texts: list[str], progress: Callable[[int, int], None] | None = None
) -> Adaptation:
    """The model adapted to these ad texts (duplicates counted once), by the paths it scores with here."""
    distinct = [t for t in dict.fromkeys(texts) if t.strip()]
    _enough(len(distinct))
    return adapt(model, Corpus.of(distinct, model.scoring_path() == SENTENCES, progress))
