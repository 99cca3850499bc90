"""Statistics the reviews share: intervals for rates, two-proportion tests, multiple-comparison control, residuals.

All functions are vectorized over arrays: pass whole columns, never loop over segments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint


def wilson_interval(successes, trials, *, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a rate ``successes / trials`` (fractions in [0, 1]); NaN where trials is 0.

    Example
    -------
    >>> lo, hi = wilson_interval([1], [2])
    >>> round(float(lo[0]), 3), round(float(hi[0]), 3)
    (0.095, 0.905)
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    safe = np.where(n > 0, n, 1)
    lo, hi = proportion_confint(x, safe, alpha=alpha, method="wilson")
    return np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)


def two_proportion_test(x1, n1, x2, n2) -> pd.DataFrame:
    """Two-sided z-test of equal rates ``x1/n1`` (before) vs ``x2/n2`` (after), pooled variance.

    Returns one row per input with ``rate_1, rate_2, diff (rate_2 - rate_1), ci_low, ci_high`` (95 %
    Wald interval of the difference, fractions) and ``z, p_value``; p is NaN where a group is empty or
    both rates are 0 or 1.

    Example
    -------
    >>> two_proportion_test([60], [100], [45], [100]).round(3)["p_value"].item()
    0.034
    """
    x1, n1, x2, n2 = (np.asarray(a, dtype=float) for a in (x1, n1, x2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        r1, r2 = x1 / n1, x2 / n2
        pooled = (x1 + x2) / (n1 + n2)
        se0 = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = np.where(se0 > 0, (r2 - r1) / se0, np.nan)
        se = np.sqrt(r1 * (1 - r1) / n1 + r2 * (1 - r2) / n2)
    p = 2 * sps.norm.sf(np.abs(z))
    return pd.DataFrame({"rate_1": r1, "rate_2": r2, "diff": r2 - r1, "ci_low": r2 - r1 - 1.96 * se,
                         "ci_high": r2 - r1 + 1.96 * se, "z": z, "p_value": p})


def adjust_pvalues(p_values, *, method: str = "holm") -> np.ndarray:
    """p-values adjusted for the number of comparisons (``holm`` controls the family-wise error, ``fdr_bh`` the
    false-discovery rate); NaN stays NaN and is not counted as a comparison.

    Computed here in numpy — the same numbers as statsmodels' ``multipletests`` (tested), without the full
    garbage collection it runs on every call (0.3 s and more in a large process, and the reviews adjust
    several families per period).

    Example
    -------
    >>> adjust_pvalues([0.01, 0.04, np.nan]).round(2).tolist()
    [0.02, 0.04, nan]
    >>> adjust_pvalues([0.01, 0.04, 0.03], method="fdr_bh").round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    from .errors import check_option

    check_option("method", method, ("holm", "fdr_bh"))
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if not m:
        return out
    q = p[ok]
    order = np.argsort(q, kind="stable")
    ranked = q[order]
    if method == "holm":  # step-down: (m − i + 1) p_(i), running maximum
        stepped = np.maximum.accumulate(ranked * np.arange(m, 0, -1))
    else:  # Benjamini–Hochberg step-up: m p_(i) / i, running minimum from the largest
        stepped = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    out[ok] = adjusted
    return out


def chi_square_residuals(table: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Chi-square test of independence on a contingency table, with adjusted standardized residuals.

    ``table``: counts, rows × columns (e.g. category × reason). Rows and columns that are all zero are
    dropped. Returns (residuals table, result) where result has ``chi2, dof, p_value, n, min_expected,
    share_expected_below_5`` and ``reliable`` (Cochran's rule: no expected count < 1 and at most 20 %
    below 5). A residual beyond ±2 marks a cell that drives the dependence.
    """
    counts = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0].astype(float)
    chi2, p, dof, expected = sps.chi2_contingency(counts.to_numpy(), correction=False)
    n = counts.to_numpy().sum()
    row = counts.sum(axis=1).to_numpy()[:, None] / n
    col = counts.sum(axis=0).to_numpy()[None, :] / n
    resid = (counts.to_numpy() - expected) / np.sqrt(expected * (1 - row) * (1 - col))
    result = {"chi2": float(chi2), "dof": int(dof), "p_value": float(p), "n": int(n),
              "min_expected": float(expected.min()), "share_expected_below_5": float((expected < 5).mean())}
    result["reliable"] = result["min_expected"] >= 1 and result["share_expected_below_5"] <= 0.2
    return pd.DataFrame(resid, index=counts.index, columns=counts.columns), result


def minimum_detectable_difference(rate, n1, n2, *, alpha=0.05, power: float = 0.8) -> np.ndarray:
    """Smallest absolute difference of two rates a two-sided two-proportion test at ``alpha`` detects with ``power``.

    ``(z[1 − alpha/2] + z[power]) · sqrt(p (1 − p) (1/n1 + 1/n2))`` around the rate ``p`` (pass the pooled rate of
    the two samples). Vectorized over every argument (``alpha`` may hold one level per row, e.g. a Holm level);
    NaN where a sample is empty or ``p`` is not in (0, 1). A fraction: 0.02 means ±2 percentage points. Next to
    "no significant change", it says how large a change the period's volume could have shown.

    Example
    -------
    >>> round(float(minimum_detectable_difference(0.5, 100, 100)), 4)   # 2.8016 · sqrt(.25 · .02)
    0.1981
    >>> minimum_detectable_difference([0.06, 0.0], [10_000, 50], [10_000, 50]).round(4).tolist()
    [0.0094, nan]
    """
    rate, n1, n2 = (np.asarray(a, dtype=float) for a in (rate, n1, n2))
    z = sps.norm.ppf(1 - np.asarray(alpha, dtype=float) / 2) + sps.norm.ppf(power)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = z * np.sqrt(rate * (1 - rate) * (1 / n1 + 1 / n2))
    return np.where((n1 > 0) & (n2 > 0) & (rate > 0) & (rate < 1), out, np.nan)
