"""Two audit questions beyond group metrics: proxies, and disparity at equal true need.

*Proxy check*: protected characteristics are kept out of X, but X may still encode them (the
ACLU found household-level features standing in for race and disability). We measure how well
X predicts each characteristic.

*Recording bias vs true need* (synthetic estates with ground truth): a group may be scored
higher because it has more need, or because agencies record more about it at the same need.
Comparing each group with the rest of the population *within the same decile of true need*
(indirect standardisation) separates the two:
``raw score ratio = need-explained ratio x ratio at equal need``.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from safeguard.models.metrics import Bootstrap, Estimate


def proxy_check(
    X: pd.DataFrame,
    sensitive: pd.DataFrame,
    *,
    min_group_size: int = 100,
    flag_auc: float = 0.7,
    seed: int = 0,
    max_rows: int = 20_000,
) -> pd.DataFrame:
    """How well the model inputs predict each protected characteristic.

    A small gradient-boosted classifier is trained on half the rows and scored on the other
    half (macro one-vs-rest AUC for several groups), on at most ``max_rows`` sampled rows.
    One thread: on a shared two-core machine LightGBM's second thread made this 10x slower. ``Unknown`` and groups smaller than
    ``min_group_size`` are left out. AUC near 0.5 means X says little about the characteristic;
    at or above ``flag_auc`` the features can stand in for it and the audit says so.

    Returns
    -------
    pandas.DataFrame
        ``dimension, n, n_groups, auc, flagged`` (auc NaN when fewer than two groups remain).
    """
    rows = []
    values = X.to_numpy(dtype=float, na_value=np.nan)
    # A proxy shows up in a sample as well as in the whole test set; cap the cost.
    sample = np.random.default_rng(seed).random(len(X)) < max_rows / max(len(X), 1)
    for dim in sensitive.columns:
        target = sensitive[dim].astype("string").fillna("Unknown").to_numpy()
        keep = (target != "Unknown") & sample
        counts = pd.Series(target[keep]).value_counts()
        big = set(counts.index[counts >= min_group_size])
        keep &= np.isin(target, list(big))
        auc = float("nan")
        if len(big) >= 2:
            classes = sorted(big)
            y = np.searchsorted(classes, target[keep])
            X_a, X_b, y_a, y_b = train_test_split(
                values[keep], y, test_size=0.5, random_state=seed, stratify=y
            )
            clf = lgb.LGBMClassifier(
                n_estimators=60, max_depth=4, learning_rate=0.1, n_jobs=1,
                random_state=seed, deterministic=True, force_row_wise=True, verbose=-1,
            )  # fmt: skip
            clf.fit(X_a, y_a)
            proba = np.asarray(clf.predict_proba(X_b))
            if len(classes) == 2:
                auc = float(roc_auc_score(y_b, proba[:, 1]))
            else:
                auc = float(roc_auc_score(y_b, proba, multi_class="ovr", average="macro"))
        rows.append(
            {"dimension": dim, "n": int(keep.sum()), "n_groups": len(big), "auc": auc,
             "flagged": bool(auc >= flag_auc) if np.isfinite(auc) else False}
        )  # fmt: skip
    return pd.DataFrame(rows)


def need_deciles(need: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Equal-count bins of true latent need (0 = lowest need)."""
    edges = np.unique(np.quantile(need, np.linspace(0, 1, n_bins + 1)[1:-1]))
    return np.searchsorted(edges, need, side="right")


def need_strata(need: np.ndarray, *make_up: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Strata of equal true need and equal family make-up, as one integer code per row.

    The outcome is "a child in the family", so at the same family need a family with more
    children, or younger ones, legitimately has more chance of it; comparing like with like
    (e.g. ``make_up = (children band, youngest-age band)``) keeps that out of the disparity.
    """
    codes = need_deciles(need, n_bins).astype(np.int64)
    for part in make_up:
        values, inverse = np.unique(np.asarray(part), return_inverse=True)
        codes = codes * len(values) + inverse
    return np.unique(codes, return_inverse=True)[1]


def _binned(w: np.ndarray, index: np.ndarray, width: int, values: np.ndarray | None) -> np.ndarray:
    """Weighted sums of ``values`` (or counts) per bin for every resample: shape (b, width).

    A sparse one-hot (rows x bins, holding the values) multiplied by all resamples at once;
    rows with index -1 are left out. (A dense one-hot was ~9000 columns wide for detailed
    groups; a flat ``bincount`` over every resample was 8x slower at 130k rows.)
    """
    ok = np.flatnonzero(np.asarray(index) >= 0)
    data = np.ones(len(ok)) if values is None else np.asarray(values, float)[ok]
    onehot = sparse.csr_matrix((data, (ok, np.asarray(index)[ok])), shape=(w.shape[1], width))
    return np.asarray((onehot.T @ w.T.astype(float)).T)


def at_equal_need(
    codes: np.ndarray,
    n_groups: int,
    need: np.ndarray,
    score: np.ndarray,
    selected: np.ndarray,
    boot: Bootstrap,
    *,
    strata: np.ndarray | None = None,
    min_rest: int = 5,
    min_coverage: float = 0.5,
) -> dict[str, list[Estimate]]:
    """Each group against the rest, raw and at equal true need, with bootstrap CIs.

    Returns per group (lists in group order):
    ``need_ratio`` (mean true-need percentile, group / rest), ``score_ratio_raw``,
    ``score_ratio_need_explained``, ``score_ratio_at_equal_need`` (mean calibrated score of
    the group / what the rest's scores in the same strata predict), and the same three for
    ``selection`` (flagged at capacity). ``strata`` defaults to need deciles
    (see :func:`need_strata`). Strata where fewer than ``min_rest`` of the rest fall are left
    out; a group with less than ``min_coverage`` of its families in usable strata gets NaN.
    The raw ratio then equals need-explained x at-equal-need only when coverage is complete.
    """
    deciles = need_deciles(need) if strata is None else np.asarray(strata)
    need = (np.argsort(np.argsort(need, kind="stable"), kind="stable") + 1) / len(need)
    n_dec = int(deciles.max()) + 1
    cell = np.where(codes >= 0, codes * n_dec + deciles, -1)
    n_cells = n_groups * n_dec

    # A stratum informs the comparison only if enough of the rest share it; a group that is
    # mostly outside such strata (e.g. an age band that is itself a stratum) has no
    # equal-need comparison and is reported as NaN rather than as a noisy ratio.
    ones = np.ones((1, len(codes)), dtype=np.float32)
    n_point = _binned(ones, cell, n_cells, None).reshape(n_groups, n_dec)
    rest_point = _binned(ones, deciles, n_dec, None) - n_point
    usable = rest_point >= min_rest
    coverage = (n_point * usable).sum(axis=1) / np.maximum(n_point.sum(axis=1), 1)
    comparable = coverage >= min_coverage

    def ratios(w: np.ndarray) -> dict[str, np.ndarray]:
        b = len(w)
        n_gd, s_gd, f_gd = (
            _binned(w, cell, n_cells, v).reshape(b, n_groups, n_dec)
            for v in (None, score, selected)
        )
        n_d, s_d, f_d = (_binned(w, deciles, n_dec, v)[:, None, :] for v in (None, score, selected))
        need_g = _binned(w, codes, n_groups, need)
        need_all = (w * need).sum(axis=1, keepdims=True)
        total = w.sum(axis=1, keepdims=True)
        out: dict[str, np.ndarray] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            n_rd = n_d - n_gd
            n_g, n_r = n_gd.sum(axis=2), total - n_gd.sum(axis=2)
            out["need_ratio"] = (need_g / n_g) / ((need_all - need_g) / n_r)
            for name, x_gd, x_d in (("score", s_gd, s_d), ("selection", f_gd, f_d)):
                valid = usable[None, :, :] & (n_rd > 0)
                rest_rate = np.where(valid, (x_d - x_gd) / np.where(valid, n_rd, 1.0), 0.0)
                observed = np.where(valid, x_gd, 0.0).sum(axis=2)
                expected = (np.where(valid, n_gd, 0.0) * rest_rate).sum(axis=2)
                covered = np.where(valid, n_gd, 0.0).sum(axis=2)
                rest_mean = (x_d.sum(axis=2) - x_gd.sum(axis=2)) / n_r
                out[f"{name}_ratio_raw"] = (x_gd.sum(axis=2) / n_g) / rest_mean
                explained = (expected / covered) / rest_mean
                out[f"{name}_ratio_need_explained"] = np.where(comparable, explained, np.nan)
                out[f"{name}_ratio_at_equal_need"] = np.where(
                    comparable, observed / expected, np.nan
                )
        return out

    point = ratios(np.ones((1, boot.n), dtype=np.float32))
    reps = [ratios(w) for w in boot.weights()]
    result: dict[str, list[Estimate]] = {}
    for key, value in point.items():
        stacked = np.concatenate([r[key] for r in reps], axis=0)
        result[key] = boot.intervals(value[0, :n_groups], stacked[:, :n_groups])
    return result
