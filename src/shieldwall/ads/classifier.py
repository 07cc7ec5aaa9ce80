"""'Is this a political or issue ad?': character n-gram hashing features and a logistic regression.

Character n-grams (2 to 5, within word boundaries) work in every language the seeds cover without
tokenisers or stemmers. The model file is an `.npz` of plain arrays (coefficients, intercept and the
vectoriser's parameters), never a pickle, so loading a model cannot run code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

N_FEATURES = 2**20
NGRAMS = (2, 5)


def _vectoriser() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=NGRAMS,
        n_features=N_FEATURES,
        alternate_sign=False,
        lowercase=True,
        norm="l2",
        dtype=np.float32,
    )


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


class PoliticalClassifier:
    def __init__(self, coef: np.ndarray, intercept: float, threshold: float = 0.5) -> None:
        self.coef = coef.astype(np.float32)
        self.intercept = float(intercept)
        self.threshold = threshold
        self._vectoriser = _vectoriser()

    @classmethod
    def train(cls, texts: list[str], labels: np.ndarray, alpha: float = 1e-6) -> PoliticalClassifier:
        from sklearn.linear_model import SGDClassifier

        if len(set(np.asarray(labels).tolist())) < 2:
            raise ValueError("training needs both political and not-political examples; add another labelled file")
        features = _vectoriser().transform(texts)
        # Logistic loss by SGD: seconds on tens of thousands of texts with a million hashed features.
        model = SGDClassifier(
            loss="log_loss", alpha=alpha, max_iter=30, tol=1e-4, class_weight="balanced", random_state=7
        )
        model.fit(features, labels)
        return cls(model.coef_.ravel(), float(model.intercept_[0]))

    def scores(self, texts: list[str]) -> np.ndarray:
        """Probability each text is a political or issue ad."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        margin = self._vectoriser.transform(texts) @ self.coef + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-margin)), dtype=np.float32)

    def predict(self, texts: list[str]) -> np.ndarray:
        return (self.scores(texts) >= self.threshold).astype(np.int8)

    def save(self, path: Path) -> None:
        nonzero = np.flatnonzero(self.coef)
        meta = orjson.dumps({"n_features": N_FEATURES, "ngrams": list(NGRAMS), "analyzer": "char_wb"})
        with path.open("wb") as handle:
            np.savez_compressed(
                handle,
                index=nonzero.astype(np.int32),
                weight=self.coef[nonzero],
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
                if meta.get("n_features") != N_FEATURES or tuple(meta.get("ngrams", ())) != NGRAMS:
                    raise ValueError(f"{path}: model built with other features ({meta})")
                coef = np.zeros(N_FEATURES, dtype=np.float32)
                coef[data["index"]] = data["weight"]
                return cls(coef, float(data["intercept"][0]), float(data["threshold"][0]))
        except (OSError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{path}: not a Shieldwall political-ad model ({error})") from None


def train_and_evaluate(
    datasets: list[tuple[str, list[str], np.ndarray]], held_out: float = 0.2
) -> tuple[PoliticalClassifier, list[Evaluation]]:
    """Train on every dataset's training split; evaluate per dataset and overall on the held-out splits.
    The returned model is then refitted on all data, so the shipped model uses every example."""
    train_texts: list[str] = []
    train_labels: list[np.ndarray] = []
    tests: list[tuple[str, list[str], np.ndarray]] = []
    for name, texts, labels in datasets:
        train_idx, test_idx = held_out_split(len(texts), held_out)
        train_texts += [texts[i] for i in train_idx]
        train_labels.append(labels[train_idx])
        tests.append((name, [texts[i] for i in test_idx], labels[test_idx]))
    model = PoliticalClassifier.train(train_texts, np.concatenate(train_labels))
    evaluations = [evaluate_predictions(name, labels, model.predict(texts)) for name, texts, labels in tests]
    if len(tests) > 1:
        all_truth = np.concatenate([t[2] for t in tests])
        all_pred = np.concatenate([model.predict(t[1]) for t in tests])
        evaluations.append(evaluate_predictions("all", all_truth, all_pred))
    full = PoliticalClassifier.train(
        [t for _, texts, _ in datasets for t in texts], np.concatenate([labels for _, _, labels in datasets])
    )
    return full, evaluations
