"""'Is this a political or issue ad?': a logistic regression over two kinds of features.

- Character n-grams (2 to 5, within word boundaries, hashed): the words of the languages trained on,
  without tokenisers or stemmers.
- Language-independent features (`shieldwall.ads.lexicon`): political and commercial concepts listed
  in 16 languages, and the text's structure (links, prices, names). These carry what was learned in one
  language to a language the model never saw.

Training weighs every language's political and not-political examples equally, so the model cannot
learn "German means political" from a seed file that only has political German ads. The model file is
an `.npz` of plain arrays (weights, intercept, the features' parameters), never a pickle, so loading a
model cannot run code. A model built from the shared seeds ships with the package
(`shieldwall/ads/model/political.npz`, see `python -m shieldwall.ads.build_model`), so imports are
scored from the first run; `ads train` builds and installs a local one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from shieldwall.ads.lexicon import CONCEPTS, N_DENSE, STRUCTURE, dense_matrix

N_FEATURES = 2**18
NGRAMS = (2, 5)
CHAR_WEIGHT = 0.5  # the n-grams' scale against the language-independent features (chosen on the bench)
DENSE_WEIGHT = 1.0


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


class PoliticalClassifier:
    def __init__(
        self,
        coef: np.ndarray,
        intercept: float,
        threshold: float = 0.5,
        dense: np.ndarray | None = None,
        char_weight: float = CHAR_WEIGHT,
        dense_weight: float = DENSE_WEIGHT,
    ) -> None:
        self.coef = coef.astype(np.float32)
        self.dense = np.zeros(N_DENSE, dtype=np.float32) if dense is None else dense.astype(np.float32)
        self.intercept = float(intercept)
        self.threshold = threshold
        self.char_weight = char_weight
        self.dense_weight = dense_weight
        self._vectoriser = _vectoriser(len(self.coef))

    @classmethod
    def features(cls, texts: list[str], n_features: int = N_FEATURES) -> Any:
        from scipy import sparse

        chars = _vectoriser(n_features).transform(texts) * CHAR_WEIGHT
        return sparse.hstack([chars, sparse.csr_matrix(dense_matrix(texts) * DENSE_WEIGHT)]).tocsr()

    @classmethod
    def train(
        cls, texts: list[str], labels: np.ndarray, groups: Sequence[str] | None = None, alpha: float = 1e-5
    ) -> PoliticalClassifier:
        """groups: each text's language (or locale); every (group, class) weighs the same."""
        from sklearn.linear_model import SGDClassifier

        if len(set(np.asarray(labels).tolist())) < 2:
            raise ValueError("training needs both political and not-political examples; add another labelled file")
        features = cls.features(texts)
        # Logistic loss by SGD: seconds on tens of thousands of texts with a quarter million hashed features.
        model = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=50, tol=1e-4, random_state=7)
        model.fit(features, labels, sample_weight=balanced_weights(labels, groups))
        coef = model.coef_.ravel()
        return cls(coef[:N_FEATURES], float(model.intercept_[0]), dense=coef[N_FEATURES:])

    def scores(self, texts: list[str]) -> np.ndarray:
        """Probability each text is a political or issue ad."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        margin = self._vectoriser.transform(texts) @ (self.coef * self.char_weight)
        margin = margin + dense_matrix(texts) @ (self.dense * self.dense_weight) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-margin)), dtype=np.float32)

    def predict(self, texts: list[str]) -> np.ndarray:
        return (self.scores(texts) >= self.threshold).astype(np.int8)

    def save(self, path: Path) -> None:
        nonzero = np.flatnonzero(self.coef)
        meta = orjson.dumps(
            {
                "n_features": len(self.coef),
                "ngrams": list(NGRAMS),
                "analyzer": "char_wb",
                "dense": list(CONCEPTS + STRUCTURE),
                "char_weight": self.char_weight,
                "dense_weight": self.dense_weight,
            }
        )
        with path.open("wb") as handle:
            np.savez_compressed(
                handle,
                index=nonzero.astype(np.int32),
                weight=self.coef[nonzero].astype(np.float16),  # half precision: a quarter of the file
                dense=self.dense,
                intercept=np.array([self.intercept]),
                threshold=np.array([self.threshold]),
                meta=np.frombuffer(meta, dtype=np.uint8),
            )

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
                )
        except (OSError, KeyError, TypeError, AttributeError, IndexError) as error:
            raise ValueError(f"{path}: not a Shieldwall political-ad model ({error})") from None


def train_and_evaluate(
    datasets: list[tuple[str, list[str], np.ndarray]], held_out: float = 0.2
) -> tuple[PoliticalClassifier, list[Evaluation]]:
    """Train on every dataset's training split; evaluate per dataset and overall on the held-out splits.
    The returned model is then refitted on all data, so the shipped model uses every example."""
    train_texts: list[str] = []
    train_labels: list[np.ndarray] = []
    train_groups: list[str] = []
    tests: list[tuple[str, list[str], np.ndarray]] = []
    for name, texts, labels in datasets:
        train_idx, test_idx = held_out_split(len(texts), held_out)
        train_texts += [texts[i] for i in train_idx]
        train_labels.append(labels[train_idx])
        train_groups += [language_of(name)] * len(train_idx)
        tests.append((name, [texts[i] for i in test_idx], labels[test_idx]))
    model = PoliticalClassifier.train(train_texts, np.concatenate(train_labels), train_groups)
    evaluations = [evaluate_predictions(name, labels, model.predict(texts)) for name, texts, labels in tests]
    if len(tests) > 1:
        all_truth = np.concatenate([t[2] for t in tests])
        all_pred = np.concatenate([model.predict(t[1]) for t in tests])
        evaluations.append(evaluate_predictions("all", all_truth, all_pred))
    return train_all(datasets), evaluations


def train_all(datasets: list[tuple[str, list[str], np.ndarray]]) -> PoliticalClassifier:
    return PoliticalClassifier.train(
        [t for _, texts, _ in datasets for t in texts],
        np.concatenate([labels for _, _, labels in datasets]),
        [language_of(name) for name, texts, _ in datasets for _ in texts],
    )


def leave_one_out(datasets: list[tuple[str, list[str], np.ndarray]]) -> list[Evaluation]:
    """For each dataset: train on all the others, score it. What a newsroom in a new locale gets."""
    evaluations = []
    for index, (name, texts, labels) in enumerate(datasets):
        others = datasets[:index] + datasets[index + 1 :]
        model = train_all(others)
        evaluations.append(evaluate_predictions(name, labels, model.predict(texts)))
    return evaluations
