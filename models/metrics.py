"""Performance metrics with vectorised, paired bootstrap confidence intervals.

Each bootstrap resample is a vector of multinomial weights over the test rows, so a metric is
computed for all resamples at once with cumulative sums instead of 200 Python-level refits of
scikit-learn metrics. The same resamples are used for every model, which makes differences
between models (model minus baseline) paired.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from threadpoolctl import threadpool_limits

ArrayFn = Callable[[np.ndarray], np.ndarray]  # weights (B, n) -> metric (B,)
CACHE_BYTES = 256 * 2**20  # bootstrap weights kept in memory up to this size


def single_threaded_blas() -> threadpool_limits:
    """Context limiting BLAS to one thread for the bootstrap's many small matrix products.

    Measured on a shared two-core machine: a (25 x 2000) @ (2000 x 24) product took 4 ms with
    OpenBLAS's two threads contending and 0.16 ms with one.
    """
    return threadpool_limits(limits=1, user_api="blas")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its bootstrap percentile interval.

    ``se_log`` is the bootstrap standard deviation of the log of the replicates (for positive
    quantities such as ratios), from which an interval at any confidence can be read.
    """

    value: float
    lower: float
    upper: float
    se_log: float = float("nan")
    se: float = float("nan")  # bootstrap standard deviation on the natural scale

    def as_dict(self) -> dict[str, float]:
        """JSON-able form."""
        return {"value": self.value, "lower": self.lower, "upper": self.upper}


class Bootstrap:
    """Seeded multinomial resampling of ``n`` rows (or of clusters of rows), chunk by chunk.

    Parameters
    ----------
    n : int
        Number of test rows.
    n_boot : int, default 200
        Resamples; 200 gives percentile intervals stable to about +/-0.01 here.
    seed : int, default 0
    ci : float, default 0.95
        Central interval coverage.
    chunk : int, default 25
        Resamples held in memory at once (``chunk * n`` float32 weights).
    clusters : numpy.ndarray, optional
        Cluster code per row (e.g. the family of each family-date row when several test
        dates are pooled). Clusters are resampled whole, so rows of one family share a
        weight: the same family at consecutive monthly dates carries overlapping outcome
        windows, and treating its rows as independent would make every interval too narrow.

    Notes
    -----
    :meth:`subset` gives a bootstrap over some rows that reuses the same resamples, so
    figures computed on a sub-population stay paired with the whole.
    """

    def __init__(
        self,
        n: int,
        *,
        n_boot: int = 200,
        seed: int = 0,
        ci: float = 0.95,
        chunk: int = 25,
        clusters: np.ndarray | None = None,
    ) -> None:
        if n < 1:
            raise ValueError("cannot bootstrap an empty test set")
        self.n, self.n_boot, self.seed, self.ci, self.chunk = n, n_boot, seed, ci, chunk
        self._cache: list[np.ndarray] | None = None
        self._rows: np.ndarray | None = None  # set on subsets: rows of the parent kept
        self._parent: Bootstrap | None = None
        if clusters is None:
            self._codes, self.n_clusters = None, n
        else:
            clusters = np.asarray(clusters)
            if len(clusters) != n:
                raise ValueError(f"clusters has {len(clusters)} entries for {n} rows")
            # Clusters numbered in order of first appearance, not by sorting their labels: the
            # labels are keyed pseudonyms (family keys), and sorted they would let the key
            # decide which family each draw picks. Rows given in an order that does not
            # depend on the key give the same resamples under any key.
            codes, uniques = pd.factorize(pd.Series(clusters), sort=False, use_na_sentinel=False)
            self._codes, self.n_clusters = codes.astype(np.int64), len(uniques)

    def subset(self, mask: np.ndarray) -> Bootstrap:
        """The same resamples restricted to the rows where ``mask`` is true."""
        rows = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(rows) == 0:
            raise ValueError("cannot bootstrap an empty subset")
        child = Bootstrap(len(rows), n_boot=self.n_boot, seed=self.seed, ci=self.ci,
                          chunk=self.chunk)  # fmt: skip
        child._parent, child._rows = self, rows
        child.n_clusters = self.n_clusters
        return child

    def _draw(self, rng: np.random.Generator, b: int) -> np.ndarray:
        m = self.n_clusters
        draws = rng.integers(0, m, size=(b, m))
        counts = np.stack([np.bincount(r, minlength=m) for r in draws]).astype(np.float32)
        return counts if self._codes is None else counts[:, self._codes]

    def weights(self) -> Iterator[np.ndarray]:
        """Yield ``(b, n)`` float32 weight matrices; identical on every call (paired).

        Kept in memory after the first pass when they fit in ``CACHE_BYTES`` (drawing them
        again for each of dozens of metrics was half of the audit's time).
        """
        if self._parent is not None:
            for w in self._parent.weights():
                yield w[:, self._rows]
            return
        if self._cache is not None:
            yield from self._cache
            return
        keep = self.n_boot * self.n * 4 <= CACHE_BYTES
        chunks: list[np.ndarray] = []
        rng = np.random.default_rng(self.seed)
        done = 0
        while done < self.n_boot:
            b = min(self.chunk, self.n_boot - done)
            w = self._draw(rng, b)
            done += b
            if keep:
                chunks.append(w)
            yield w
        if keep:
            self._cache = chunks

    def replicates(self, fn: ArrayFn) -> np.ndarray:
        """``fn`` applied to every resample: shape ``(n_boot,)``."""
        return np.concatenate([fn(w) for w in self.weights()])

    def estimate(self, fn: ArrayFn, *, max_reps: int | None = None) -> Estimate:
        """Point value (all weights 1) and percentile interval of ``fn``.

        ``max_reps`` uses only the first resamples (for costly statistics such as the
        calibration slope, whose interval is read from the spread of fewer replicates).
        """
        point = float(fn(np.ones((1, self.n), dtype=np.float32))[0])
        if max_reps is None or max_reps >= self.n_boot:
            return self.interval(point, self.replicates(fn))
        reps, taken = [], 0
        for w in self.weights():
            part = fn(w[: max_reps - taken])
            reps.append(part)
            taken += len(part)
            if taken >= max_reps:
                break
        return self.interval(point, np.concatenate(reps))

    def difference(self, fn_a: ArrayFn, fn_b: ArrayFn) -> Estimate:
        """Paired estimate of ``fn_a - fn_b`` on the same resamples."""
        ones = np.ones((1, self.n), dtype=np.float32)
        point = float(fn_a(ones)[0] - fn_b(ones)[0])
        reps = np.concatenate([fn_a(w) - fn_b(w) for w in self.weights()])
        return self.interval(point, reps)

    def intervals(self, points: np.ndarray, reps: np.ndarray) -> list[Estimate]:
        """:meth:`interval` of each column of ``reps`` ``(n_boot, k)`` around ``points[j]``.

        The percentiles of the columns whose replicates are all finite (most of them) are taken
        in one ``np.quantile`` call; it selects the same order statistics and interpolates them
        the same way, so each equals :meth:`interval`'s (tests/models/test_models_evaluation.py).
        """
        reps = np.asarray(reps)
        if reps.ndim != 2 or reps.shape[1] == 0:
            return [self.interval(float(p), reps[:, j]) for j, p in enumerate(points)]
        alpha = (1.0 - self.ci) / 2.0
        full = np.isfinite(reps).all(axis=0)
        bounds = np.quantile(reps[:, full], [alpha, 1.0 - alpha], axis=0) if full.any() else None
        at = np.cumsum(full) - 1
        out = []
        for j, point in enumerate(points):
            column = np.ascontiguousarray(reps[:, j])
            if not full[j]:
                out.append(self.interval(float(point), column))
                continue
            lo, hi = bounds[:, at[j]]  # type: ignore[index]
            out.append(self._estimate(float(point), column, float(lo), float(hi)))
        return out

    def interval(self, point: float, reps: np.ndarray) -> Estimate:
        """Percentile interval of the finite replicates ``reps`` around ``point``."""
        alpha = (1.0 - self.ci) / 2.0
        finite = reps[np.isfinite(reps)]
        if finite.size == 0:
            return Estimate(point, float("nan"), float("nan"))
        lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
        return self._estimate(point, finite, float(lo), float(hi))

    @staticmethod
    def _estimate(point: float, finite: np.ndarray, lo: float, hi: float) -> Estimate:
        positive = finite[finite > 0]
        # Replicates of 0 (e.g. no flagged outcome in a resample) make the log undefined; the
        # spread is then unknown rather than small.
        se_log = (
            float(np.std(np.log(positive), ddof=1))
            if positive.size >= 10 and positive.size == finite.size
            else float("nan")
        )
        se = float(np.std(finite, ddof=1)) if finite.size >= 10 else float("nan")
        return Estimate(point, float(lo), float(hi), se_log, se)


def _ordered(score: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Descending-score order, labels in that order, and start index of each tied block."""
    order = np.argsort(-score, kind="stable")
    s = score[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    return order, y[order].astype(np.float32), starts


def auc_roc(y: np.ndarray, score: np.ndarray) -> ArrayFn:
    """Weighted ROC AUC with ties counted as one half (as scikit-learn)."""
    order, ys, starts = _ordered(np.asarray(score, float), np.asarray(y))

    def fn(w: np.ndarray) -> np.ndarray:
        ws = w[:, order]
        pos = np.add.reduceat(ws * ys, starts, axis=1)
        neg = np.add.reduceat(ws * (1 - ys), starts, axis=1)
        neg_above = np.cumsum(neg, axis=1) - neg  # negatives scored strictly higher
        total_p, total_n = pos.sum(axis=1), neg.sum(axis=1)
        wrong = (pos * (neg_above + 0.5 * neg)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return 1.0 - wrong / (total_p * total_n)

    return fn


def average_precision(y: np.ndarray, score: np.ndarray) -> ArrayFn:
    """Weighted area under the precision-recall curve (scikit-learn's step definition)."""
    order, ys, starts = _ordered(np.asarray(score, float), np.asarray(y))

    def fn(w: np.ndarray) -> np.ndarray:
        ws = w[:, order]
        tp = np.cumsum(np.add.reduceat(ws * ys, starts, axis=1), axis=1)
        seen = np.cumsum(np.add.reduceat(ws, starts, axis=1), axis=1)
        total_p = tp[:, -1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(seen > 0, tp / seen, 0.0)
            recall_step = np.diff(np.c_[np.zeros(len(w)), tp], axis=1) / total_p
            return (recall_step * precision).sum(axis=1)

    return fn


def brier(y: np.ndarray, prob: np.ndarray) -> ArrayFn:
    """Weighted mean squared error of probabilities."""
    sq = ((np.asarray(prob, float) - np.asarray(y, float)) ** 2).astype(np.float32)
    return lambda w: (w @ sq) / w.sum(axis=1)


def _top_k_tp(y: np.ndarray, score: np.ndarray, k: int) -> ArrayFn:
    """Weighted count of outcomes among the ``k`` highest-scored rows of each resample.

    A resample contains rows several times; the ``k`` slots are filled down the ranking and a
    row straddling the cut counts fractionally. Ties are broken by row order (stable).
    """
    order = np.argsort(-np.asarray(score, float), kind="stable")
    ys = np.asarray(y, float)[order]
    # The cut lies where a resample's weights down the ranking reach k: about k rows in, so the
    # running sums are taken over a prefix (4k rows) and only over every row when some resample
    # has not reached k by then. Running sums are sequential, so the prefix's are the same floats.
    prefix = min(len(order), 4 * max(int(np.ceil(k)), 1))

    def fn(w: np.ndarray) -> np.ndarray:
        ws = w[:, order[:prefix]].astype(float)
        cum_w = np.cumsum(ws, axis=1)
        if prefix < len(order) and not (cum_w[:, -1] >= k).all():
            ws = w[:, order].astype(float)
            cum_w = np.cumsum(ws, axis=1)
        ys_ = ys[: ws.shape[1]]
        cum_tp = np.cumsum(ws * ys_, axis=1)
        j = np.minimum(
            np.array([np.searchsorted(row, k) for row in cum_w], dtype=np.int64), ws.shape[1] - 1
        )
        rows = np.arange(len(w))
        before_w = np.where(j > 0, cum_w[rows, j - 1], 0.0)
        before_tp = np.where(j > 0, cum_tp[rows, j - 1], 0.0)
        return before_tp + np.minimum(k - before_w, ws[rows, j]).clip(min=0) * ys_[j]

    return fn


def top_k(y: np.ndarray, score: np.ndarray, k: int, *, what: str = "precision") -> ArrayFn:
    """Precision or recall among the ``k`` highest-scored rows of each resample."""
    return pooled_top_k(y, score, np.zeros(len(y)), {0.0: k}, what=what)


def pooled_top_k(
    y: np.ndarray,
    score: np.ndarray,
    dates: np.ndarray,
    ks: Mapping[Any, int],
    *,
    what: str = "precision",
) -> ArrayFn:
    """Precision or recall at capacity over pooled test dates.

    Practitioners review the top ``ks[date]`` families *of each run*, so the top k is taken
    within each date; precision is all flagged outcomes over all flags, recall all flagged
    outcomes over all outcomes.
    """
    if what not in ("precision", "recall"):
        raise ValueError("what must be 'precision' or 'recall'")
    dates = np.asarray(dates)
    parts = []
    for d in np.unique(dates):
        idx = np.flatnonzero(dates == d)
        k = int(ks[d])
        if k <= 0:
            continue
        parts.append((idx, _top_k_tp(np.asarray(y)[idx], np.asarray(score)[idx], k), k))
    total_k = float(max(sum(k for _, _, k in parts), 1))
    yy = np.asarray(y, float).astype(np.float32)

    def fn(w: np.ndarray) -> np.ndarray:
        tp = np.zeros(len(w))
        for idx, tp_fn, _k in parts:
            tp = tp + tp_fn(w[:, idx])
        if what == "precision":
            return tp / total_k
        positives = w @ yy
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(positives > 0, tp / np.maximum(positives, 1e-12), np.nan)

    return fn


def observed_over_expected(y: np.ndarray, prob: np.ndarray) -> ArrayFn:
    """Calibration in the large: outcomes observed / outcomes the probabilities expected."""
    yy = np.asarray(y, float).astype(np.float32)
    p = np.asarray(prob, float).astype(np.float32)

    def fn(w: np.ndarray) -> np.ndarray:
        expected = w @ p
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(expected > 0, (w @ yy) / np.maximum(expected, 1e-30), np.inf)

    return fn


def calibration_slope(y: np.ndarray, prob: np.ndarray, iterations: int = 12) -> ArrayFn:
    """Slope of the logistic recalibration ``logit P(y) = a + b * logit(p)`` (1 = ideal).

    Below 1 the probabilities are too extreme (over-confident), above 1 too timid. A constant
    predictor (e.g. all zero) has no slope: NaN, which fails any check. Fitted by Newton's
    method for every resample at once.
    """
    p = np.asarray(prob, float)
    if len(p) == 0 or np.ptp(p) == 0 or not np.all(np.isfinite(p)):
        return lambda w: np.full(len(w), np.nan)
    # Isotonic calibration gives some families exactly 0 or 1; their log-odds are clipped at
    # +/-9.2 (1 in 10,000) rather than making the slope undefined.
    p = np.clip(p, 1e-4, 1 - 1e-4)
    x = np.log(p / (1 - p))
    yy = np.asarray(y, float)

    def fn(w: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return _newton(w.astype(float))

    def _newton(w: np.ndarray) -> np.ndarray:
        coef = np.zeros((len(w), 2))
        coef[:, 1] = 1.0
        diverged = np.zeros(len(w), dtype=bool)
        for _ in range(iterations):
            eta = coef[:, :1] + coef[:, 1:] * x[None, :]
            mu = expit(eta)
            r = w * (yy[None, :] - mu)
            v = w * mu * (1 - mu)
            g = np.c_[r.sum(axis=1), (r * x).sum(axis=1)]
            h00, h01, h11 = v.sum(axis=1), (v * x).sum(axis=1), (v * x * x).sum(axis=1)
            det = h00 * h11 - h01**2
            step = np.c_[
                (h11 * g[:, 0] - h01 * g[:, 1]) / det, (h00 * g[:, 1] - h01 * g[:, 0]) / det
            ]
            bad = ~np.isfinite(step).all(axis=1) | (np.abs(step).max(axis=1) > 50)
            diverged |= bad
            step[diverged] = 0.0
            coef = coef + step
            if np.abs(step).max() < 1e-6:
                break
        # a resample where the fit diverged (e.g. no outcome at all) has no slope
        return np.where(diverged, np.nan, coef[:, 1])

    return fn


def at_threshold(y: np.ndarray, prob: np.ndarray, threshold: float, *, what: str) -> ArrayFn:
    """Precision or recall (or selected count) of the rule ``prob >= threshold``."""
    sel = (np.asarray(prob, float) >= threshold).astype(np.float32)
    yy = np.asarray(y, float).astype(np.float32)

    def fn(w: np.ndarray) -> np.ndarray:
        tp = w @ (sel * yy)
        with np.errstate(invalid="ignore", divide="ignore"):
            if what == "precision":
                n_sel = w @ sel
                return np.where(n_sel > 0, tp / np.maximum(n_sel, 1e-12), 0.0)
            if what == "recall":
                return tp / (w @ yy)
        raise ValueError("what must be 'precision' or 'recall'")

    return fn


def quantile_bins(prob: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Bin index of each row on equal-count bins of ``prob`` (ties kept together)."""
    p = np.asarray(prob, float)
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)[1:-1]))
    return np.searchsorted(edges, p, side="right")


def ece(y: np.ndarray, prob: np.ndarray, n_bins: int = 10) -> ArrayFn:
    """Expected calibration error on equal-count bins: sum of bin share x |mean p - rate|.

    Equal-count bins are used because with a base rate of a few percent equal-width bins put
    almost every family in the first bin and hide miscalibration among the highest scores.
    """
    bins = quantile_bins(prob, n_bins)
    onehot = np.zeros((len(bins), bins.max() + 1), dtype=np.float32)
    onehot[np.arange(len(bins)), bins] = 1.0
    p = np.asarray(prob, float).astype(np.float32)
    yy = np.asarray(y, float).astype(np.float32)

    def fn(w: np.ndarray) -> np.ndarray:
        n_b = w @ onehot
        gap = np.abs((w * p) @ onehot - (w * yy) @ onehot)
        return gap.sum(axis=1) / n_b.sum(axis=1)

    return fn


def calibration_table(y: np.ndarray, prob: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Calibration curve on equal-count bins: ``bin, n, mean_predicted, observed_rate``."""
    frame = pd.DataFrame({"bin": quantile_bins(prob, n_bins), "p": prob, "y": np.asarray(y, float)})
    table = frame.groupby("bin").agg(
        n=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean")
    )
    return table.reset_index()
