"""A/B test readout: conversion, revenue per visitor and order value by variant, with the checks that make it safe.

One experiment of the ``experiments`` table (unit, variant, first exposure) is read as of the period's end: the
units exposed by then, and their counted orders from exposure to the period's end (``contract.order_revenue``,
gross and net of the returns received by then). The readout stops at a sample-ratio mismatch (χ² test of the
unit counts against the planned split): a broken assignment makes every comparison after it meaningless.

Statistics: Wilson intervals and the two-proportion z-test for conversion (``ecomlib.stats``); Welch's t-test and a
percentile bootstrap for revenue per visitor, each unit's revenue capped at a stated quantile of the buyers'
revenue; CUPED (Deng et al., 2013) with each unit's revenue in the ``pre_days`` before exposure; an always-valid
confidence sequence (normal-mixture mSPRT, Johari et al., 2017) so a test read early is not over-trusted, and a
warning when the units are fewer than planned; Bayesian probability to beat control (Beta(1, 1) prior on
conversion); a daily cumulative lift chart; and the minimum detectable effect of the next test.

Which experiment: the ``experiment`` option names one; by default the most recently started experiment with
exposures in the period (one readout per page keeps the page thin; the overview table lists every experiment
active in the period with its split check, so none is hidden).

Minimum data (also :data:`MINIMUM_DATA`):

- overview: an experiments table with exposures in the period;
- srm: at least two variants with units;
- metrics: no sample-ratio mismatch, and orders (or, for conversion only, purchase events) for the units; at least 2
  units per variant;
- tests, sequential, bayes, daily: the same and at least ``min_converters`` (10) buyers in every variant;
- net revenue: the returns table;
- cuped: orders before the exposures (``pre_days``) that vary;
- power: a control conversion rate strictly between 0 and 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from .contract import order_revenue
from .i18n import Messages
from .keys import isin
from .report import Headline
from .review import Finding, Gap, Result, merged_options, result_value
from .stats import minimum_detectable_difference, two_proportion_test, wilson_interval

NAME = "ab_test"
MINIMUM_DATA = {
    "overview": "an experiments table with exposures in the period",
    "srm": "at least two variants with units",
    "metrics": "no sample-ratio mismatch; orders (or purchase events, conversion only); ≥ 2 units per variant",
    "tests": "as metrics, and at least min_converters (10) buyers in every variant",
    "net": "the returns table",
    "cuped": "orders in the pre_days before the exposures, not all equal",
    "power": "a control conversion rate strictly between 0 and 1",
}
OPTIONS = {"experiment": None, "control": "control", "alpha": 0.05, "srm_alpha": 0.001, "cap_quantile": 0.99,
           "pre_days": 28, "planned_units": None, "mixture_lift": 0.1, "bayes": True, "n_boot": 2000, "seed": 0,
           "pending": False, "target_lift": 0.05, "weeks": (1, 2, 4, 8), "min_converters": 10}
READOUT = ("metrics", "tests", "sequential", "bayes", "daily", "power")
UNITS: dict[str, str] = {
    **{c: "int" for c in ("units", "expected_units", "converters", "orders", "variants", "n_units", "weeks",
                          "needed_per_variant")},
    **{c: "pct" for c in ("conversion", "conversion_low", "conversion_high", "share", "expected_share", "lift",
                          "lift_low", "lift_high", "cs_lift_low", "cs_lift_high", "prob_beat", "variance_reduction",
                          "mde_relative", "target_lift")},
    **{c: "money" for c in ("rpv_gross", "rpv_net", "rpv_low", "rpv_high", "aov", "aov_low", "aov_high",
                            "control_mean", "treatment_mean", "diff", "ci_low", "ci_high", "boot_low", "boot_high",
                            "cs_low", "cs_high", "cap")},
    **{c: "pp" for c in ("conversion_diff", "conversion_diff_low", "conversion_diff_high", "mde")},
    **{c: "p" for c in ("p_value", "srm_p")},
    **{c: "num" for c in ("chi2", "t", "df")},
    **{c: "date" for c in ("first_exposure", "last_exposure", "date")},
}


# Statistics ------------------------------------------------------------------------------------------------------
def srm_test(counts, shares=None) -> dict:
    """χ² goodness-of-fit of unit counts per variant against the planned shares (default: equal).

    >>> round(srm_test([5000, 4800])["p_value"], 4)
    0.0434
    """
    counts = np.asarray(counts, dtype=float)
    shares = np.full(len(counts), 1 / len(counts)) if shares is None else np.asarray(shares, float) / np.sum(shares)
    expected = counts.sum() * shares
    chi2, p = sps.chisquare(counts, expected)
    return {"chi2": float(chi2), "dof": len(counts) - 1, "p_value": float(p), "expected": expected}


def welch_test(mean1, var1, n1, mean2, var2, n2, *, alpha: float = 0.05) -> pd.DataFrame:
    """Welch's unequal-variance t-test of ``mean2 − mean1`` from summary statistics (sample variances, ddof 1).

    Vectorized; returns ``diff, se, df, t, p_value, ci_low, ci_high`` (a ``1 − alpha`` interval of the difference).
    Same numbers as ``scipy.stats.ttest_ind(b, a, equal_var=False)``.
    """
    m1, v1, n1, m2, v2, n2 = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (mean1, var1, n1, mean2, var2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = v1 / n1, v2 / n2
        se = np.sqrt(a + b)
        df = (a + b) ** 2 / (a ** 2 / (n1 - 1) + b ** 2 / (n2 - 1))
        t = (m2 - m1) / se
    p = 2 * sps.t.sf(np.abs(t), df)
    q = sps.t.ppf(1 - alpha / 2, df)
    return pd.DataFrame({"diff": m2 - m1, "se": se, "df": df, "t": t, "p_value": p,
                         "ci_low": m2 - m1 - q * se, "ci_high": m2 - m1 + q * se})


_BOOT_BLOCK = 8_000_000  # values drawn at once by bootstrap_mean_diff (resamples × their width)


def bootstrap_mean_diff(control, treatment, *, n_boot: int = 2000, alpha: float = 0.05,
                        rng: np.random.Generator | None = None) -> tuple[float, float]:
    """Percentile bootstrap interval of ``mean(treatment) − mean(control)``, resampling units within each arm.

    Exact and fast for revenue, which is mostly zero: a resample of ``n`` units holds Binomial(n, share non-zero)
    non-zero values drawn with replacement from the non-zero ones — the same distribution as drawing ``n`` units.
    The draws are made a block of resamples at a time (about 8 M values, 64 MB): one ``(n_boot, k)`` matrix was
    4 GiB per array for the 269,250 buyers of an arm on a 30×-orders store. The generator's stream is the same
    whether the rows are drawn at once or in blocks, so the interval does not depend on the block size.
    """
    rng = np.random.default_rng(0) if rng is None else rng

    def means(y):
        y = np.asarray(y, dtype=float)
        nonzero = y[y != 0]
        if len(nonzero) == 0:
            return np.zeros(n_boot)
        k = rng.binomial(len(y), len(nonzero) / len(y), n_boot)
        width = max(int(k.max()), 1)
        block = max(1, _BOOT_BLOCK // width)
        sums = np.empty(n_boot)
        for lo in range(0, n_boot, block):  # blocks of resamples, not units: a few dozen passes at most
            draws = nonzero[rng.integers(0, len(nonzero), (min(block, n_boot - lo), width))]
            sums[lo:lo + len(draws)] = np.where(np.arange(width) < k[lo:lo + len(draws), None], draws, 0.0).sum(axis=1)
        return sums / len(y)

    diffs = means(treatment) - means(control)
    lo, hi = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def cuped(y, x) -> tuple[np.ndarray, float]:
    """CUPED-adjusted outcome ``y − θ (x − mean x)`` with ``θ = cov(x, y) / var(x)`` pooled over the arms.

    ``x`` is measured before exposure, so the adjustment removes variance without bias (Deng et al., 2013).
    Returns (adjusted y, θ); θ = 0 when ``x`` does not vary.
    """
    y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    vx = x.var(ddof=1) if len(x) > 1 else 0.0
    theta = float(np.cov(x, y, ddof=1)[0, 1] / vx) if vx > 0 else 0.0
    return y - theta * (x - x.mean()), theta


def confidence_sequence(diff, var, *, tau: float, alpha: float = 0.05) -> np.ndarray:
    """Half-width of the always-valid (normal-mixture mSPRT) confidence sequence for a difference.

    ``diff ± h`` with ``h = sqrt(V (V + τ²) / τ² · (2 log(1/alpha) + log((V + τ²) / V)))``, ``V`` the variance of the
    estimate and ``τ`` the mixture's scale (a plausible effect size, fixed in advance). It may be read after every
    new unit without inflating the error rate (Johari, Pekelis & Walsh, 2017; Howard et al., 2021).
    """
    v = np.asarray(var, dtype=float)
    t2 = float(tau) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.sqrt(v * (v + t2) / t2 * (2 * np.log(1 / alpha) + np.log((v + t2) / v)))
    return np.where(v > 0, h, np.nan)


def prob_beat(x_control, n_control, x_treatment, n_treatment, *, draws: int = 100_000,
              rng: np.random.Generator | None = None) -> float:
    """Posterior probability that treatment's conversion exceeds control's, Beta(1, 1) priors (Monte Carlo)."""
    rng = np.random.default_rng(0) if rng is None else rng
    c = rng.beta(1 + x_control, 1 + n_control - x_control, draws)
    t = rng.beta(1 + x_treatment, 1 + n_treatment - x_treatment, draws)
    return float((t > c).mean())


def sample_size(rate, lift, *, alpha: float = 0.05, power: float = 0.8) -> np.ndarray:
    """Units per variant a two-sided two-proportion test needs to detect a relative ``lift`` of ``rate``."""
    rate, lift = np.asarray(rate, float), np.asarray(lift, float)
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = z ** 2 * 2 * rate * (1 - rate) / (rate * lift) ** 2
    return np.ceil(n)


def simulate_aa(rng: np.random.Generator, *, n_tests: int = 1000, n_units: int = 2000, rate: float = 0.05,
                alpha: float = 0.05) -> float:
    """Share of simulated A/A tests (same rate in both arms) the two-proportion test rejects at ``alpha``."""
    x = rng.binomial(n_units, rate, (2, n_tests))
    p = two_proportion_test(x[0], np.full(n_tests, n_units), x[1], np.full(n_tests, n_units))["p_value"].to_numpy()
    return float(np.mean(p < alpha))


def _relative(m_t, v_t, m_c, v_c, alpha):
    """Relative lift m_t / m_c − 1 with a delta-method interval (v_*: variances of the means)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = m_t / m_c - 1
        se = np.sqrt(v_t / m_c ** 2 + m_t ** 2 * v_c / m_c ** 4)
    z = sps.norm.ppf(1 - alpha / 2)
    return lift, np.maximum(lift - z * se, -1.0), lift + z * se


# Data ----------------------------------------------------------------------------------------------------------------
def load(data_dir, *, pre_days: int = OPTIONS["pre_days"], **kwargs):
    """The tables of the A/B readout: experiments (required); orders and returns, or purchase events when the store
    has no orders table (optional). With orders the events are not read at all: a year of GA4 events would only
    be loaded to be ignored.

    Only the orders and returns the readout can use are read: from ``pre_days`` (CUPED's pre-period; pass the same
    as to :func:`compute`, which refuses a longer one) before the first exposure of any experiment. On a
    30×-orders store that is 0.9 M of 4.8 M orders. The experiments are read first to find that exposure.
    ``kwargs`` go to :func:`~ecomlib.review.load_tables` (``engine``, ``now``, …).
    """
    from pathlib import Path

    from .dataset import table_file
    from .review import load_tables

    folder = Path(str(data_dir))
    has_orders = folder.is_dir() and table_file(folder, "orders") is not None
    if not has_orders:
        return load_tables(data_dir, NAME, **kwargs)
    since = _orders_since(load_tables(data_dir, NAME, without=("events", "orders", "returns"), **kwargs).experiments,
                          pre_days)
    window = {"orders": since, "returns": since} if since is not None else {}
    ds = load_tables(data_dir, NAME, without=("events",), since={**window, **kwargs.pop("since", {})}, **kwargs)
    ds.orders_since = since
    return ds


def _orders_since(experiments: pd.DataFrame, pre_days: int) -> pd.Timestamp | None:
    """The first order time the readout can use: ``pre_days`` before the first exposure (None: no exposures).
    A return is received after its order, so the same bound serves the returns."""
    first = experiments["assigned_at"].min()
    return None if pd.isna(first) else first - pd.Timedelta(days=int(pre_days))


def data_range(ds) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last exposure of the experiments table."""
    return ds.experiments["assigned_at"].min(), ds.experiments["assigned_at"].max()


def _options(options: dict) -> dict:
    from .errors import ParameterError

    opts = merged_options("experiments", options, OPTIONS)
    for name in ("alpha", "srm_alpha", "cap_quantile", "mixture_lift", "target_lift"):
        if not 0 < float(opts[name]) < 1 and not (name == "cap_quantile" and opts[name] == 1):
            raise ParameterError(f"{name} must be a fraction in (0, 1), not {opts[name]!r}", name=name)
    for name in ("pre_days", "n_boot", "min_converters"):
        if int(opts[name]) < 1:
            raise ParameterError(f"{name} must be a whole number ≥ 1, not {opts[name]!r}", name=name)
    if opts["planned_units"] is not None and int(opts["planned_units"]) < 1:
        raise ParameterError(f"planned_units must be ≥ 1 or None, not {opts['planned_units']!r}", name="planned_units")
    return opts


def overview(experiments: pd.DataFrame, period, *, srm_alpha: float = 0.001) -> pd.DataFrame:
    """One row per experiment with exposures in the period: units by the period's end, split and SRM check."""
    upto = experiments[experiments["assigned_at"] < period.end]
    active = upto.loc[upto["assigned_at"] >= period.start, "experiment"].unique()
    upto = upto[upto["experiment"].isin(active)]
    if upto.empty:
        return pd.DataFrame(columns=["experiment", "first_exposure", "last_exposure", "variants", "units", "srm_p",
                                     "srm"])
    counts = upto.groupby(["experiment", "variant"], observed=True).size().rename("n").reset_index()
    k = counts.groupby("experiment")["n"].transform("size")
    counts["expected"] = counts.groupby("experiment")["n"].transform("sum") / k
    counts["term"] = (counts["n"] - counts["expected"]) ** 2 / counts["expected"]
    chi = counts.groupby("experiment").agg(chi2=("term", "sum"), variants=("n", "size"), units=("n", "sum"))
    chi["srm_p"] = np.where(chi["variants"] > 1, sps.chi2.sf(chi["chi2"], (chi["variants"] - 1).clip(lower=1)), np.nan)
    span = upto.groupby("experiment")["assigned_at"].agg(first_exposure="min", last_exposure="max")
    out = span.join(chi).reset_index()
    out["srm"] = out["srm_p"] < srm_alpha
    return out.sort_values("first_exposure", ascending=False, kind="stable").reset_index(drop=True)[
        ["experiment", "first_exposure", "last_exposure", "variants", "units", "chi2", "srm_p", "srm"]]


def unit_outcomes(units: pd.DataFrame, *, orders: pd.DataFrame | None, returns: pd.DataFrame | None,
                  events: pd.DataFrame | None, end: pd.Timestamp, pre_days: int = 28,
                  pending: bool = False) -> pd.DataFrame:
    """Each unit's outcome from its exposure to ``end``: converted, orders, gross and net revenue, pre-period revenue.

    units : ``unit_id, variant, assigned_at``. Orders are the counted ones of ``contract.order_revenue``; net
    revenue subtracts the refunds received before ``end`` (NaN without a returns table). ``pre_revenue`` is the
    unit's gross revenue in the ``pre_days`` before its exposure (CUPED's covariate). Without orders, conversion
    comes from ``purchase`` events and the revenue columns are NaN. ``converted_at``: first conversion.
    """
    out = units[["unit_id", "variant", "assigned_at"]].reset_index(drop=True)
    idx = pd.Series(np.arange(len(out)), index=out["unit_id"].to_numpy())
    n = len(out)
    if orders is not None:
        cut = orders[orders["order_time"] < end]
        rets = None if returns is None else returns[returns["returned_at"] < end]
        rev = order_revenue(cut, basis="net" if rets is not None else "gross", pending=pending, returns=rets)
        rev = rev[isin(rev["customer_id"], idx.index)]
        pos = idx.loc[rev["customer_id"]].to_numpy()
        t0 = out["assigned_at"].to_numpy()[pos]
        ot = rev["order_time"].to_numpy()
        after = ot >= t0
        pre = (ot < t0) & (ot >= t0 - np.timedelta64(int(pre_days), "D"))
        gross = rev["gross_revenue"].to_numpy()
        out["orders"] = np.bincount(pos[after], minlength=n)
        out["gross"] = np.bincount(pos[after], weights=gross[after], minlength=n)
        out["net"] = (np.bincount(pos[after], weights=rev["revenue"].to_numpy()[after], minlength=n)
                      if rets is not None else np.nan)
        out["pre_revenue"] = np.bincount(pos[pre], weights=gross[pre], minlength=n)
        first = pd.Series(ot[after]).groupby(pos[after]).min()
    else:
        buys = events[(events["event_name"] == "purchase") & (events["event_time"] < end)
                      & isin(events["user_id"], idx.index)]
        pos = idx.loc[buys["user_id"]].to_numpy()
        after = buys["event_time"].to_numpy() >= out["assigned_at"].to_numpy()[pos]
        out["orders"] = np.bincount(pos[after], minlength=n)
        out["gross"] = out["net"] = out["pre_revenue"] = np.nan
        first = pd.Series(buys["event_time"].to_numpy()[after]).groupby(pos[after]).min()
    out["converted"] = out["orders"] > 0
    out["converted_at"] = pd.Series(first).reindex(np.arange(n)).to_numpy()
    return out


def variant_metrics(outcomes: pd.DataFrame, *, cap: float = np.inf, alpha: float = 0.05) -> pd.DataFrame:
    """Per variant: units, conversion (Wilson interval), revenue per visitor gross and net (t interval, revenue
    capped at ``cap``), average order value (gross revenue / orders of the buyers, delta-method interval)."""
    y = outcomes.assign(g=outcomes["gross"].clip(upper=cap), nt=outcomes["net"].clip(upper=cap))
    g = y.groupby("variant", observed=True)
    out = g.agg(units=("unit_id", "size"), converters=("converted", "sum"), orders=("orders", "sum"),
                rpv_gross=("g", "mean"), rpv_net=("nt", "mean"), var_gross=("g", "var"), revenue=("gross", "sum"))
    out["conversion"] = out["converters"] / out["units"]
    out["conversion_low"], out["conversion_high"] = wilson_interval(out["converters"], out["units"], alpha=alpha)
    q = sps.t.ppf(1 - alpha / 2, (out["units"] - 1).clip(lower=1))
    se = np.sqrt(out["var_gross"] / out["units"])
    out["rpv_low"], out["rpv_high"] = out["rpv_gross"] - q * se, out["rpv_gross"] + q * se
    buyers = outcomes[outcomes["orders"] > 0]
    buyers = buyers.assign(ro=buyers["gross"] * buyers["orders"])
    stats = buyers.groupby("variant", observed=True).agg(
        k=("orders", "size"), r=("gross", "mean"), o=("orders", "mean"), vr=("gross", "var"), vo=("orders", "var"),
        ro=("ro", "mean")).reindex(out.index)
    cov = (stats["ro"] - stats["r"] * stats["o"]) * stats["k"] / (stats["k"] - 1).where(stats["k"] > 1)
    stats["aov"] = stats["r"] / stats["o"]
    var = (stats["vr"] - 2 * stats["aov"] * cov + stats["aov"] ** 2 * stats["vo"]) / (stats["o"] ** 2 * stats["k"])
    z = sps.norm.ppf(1 - alpha / 2)
    stats["aov_low"], stats["aov_high"] = stats["aov"] - z * np.sqrt(var), stats["aov"] + z * np.sqrt(var)
    out = out.join(stats[["aov", "aov_low", "aov_high"]])
    return out.reset_index()[["variant", "units", "converters", "conversion", "conversion_low", "conversion_high",
                              "orders", "rpv_gross", "rpv_low", "rpv_high", "rpv_net", "aov", "aov_low", "aov_high"]]


def compare(outcomes: pd.DataFrame, *, control: str, cap: float, alpha: float = 0.05, n_boot: int = 2000,
            seed: int = 0, tau_lift: float = 0.1, bayes: bool = True) -> dict[str, pd.DataFrame]:
    """Every other variant against ``control``: conversion (two-proportion test, relative lift, confidence
    sequence, probability to beat) and revenue per visitor gross / net / CUPED-adjusted (Welch, bootstrap,
    confidence sequence), revenue capped at ``cap``."""
    rng = np.random.default_rng(seed)
    c = outcomes[outcomes["variant"] == control]
    conv_rows, rev_rows = [], []
    has_rev = outcomes["gross"].notna().all()
    adjusted = None
    if has_rev:
        capped = outcomes["gross"].clip(upper=cap).to_numpy()
        adjusted, theta = cuped(capped, outcomes["pre_revenue"].clip(upper=cap).to_numpy())
        outcomes = outcomes.assign(cuped=adjusted)
        c = outcomes[outcomes["variant"] == control]
    z = sps.norm.ppf(1 - alpha / 2)
    for variant in [v for v in sorted(outcomes["variant"].unique()) if v != control]:  # a few variants at most
        t = outcomes[outcomes["variant"] == variant]
        xc, nc, xt, nt = c["converted"].sum(), len(c), t["converted"].sum(), len(t)
        test = two_proportion_test([xc], [nc], [xt], [nt]).iloc[0]
        pc, pt = xc / nc, xt / nt
        lift, lo, hi = _relative(pt, pt * (1 - pt) / nt, pc, pc * (1 - pc) / nc, alpha)
        var = pc * (1 - pc) / nc + pt * (1 - pt) / nt
        h = float(confidence_sequence(var, var, tau=tau_lift * pc, alpha=alpha)) if pc > 0 else np.nan
        conv_rows.append({"variant": variant, "conversion_diff": test["diff"],
                          "conversion_diff_low": test["diff"] - z * np.sqrt(var),
                          "conversion_diff_high": test["diff"] + z * np.sqrt(var), "p_value": test["p_value"],
                          "lift": lift, "lift_low": lo, "lift_high": hi,
                          "cs_lift_low": (test["diff"] - h) / pc if pc > 0 else np.nan,
                          "cs_lift_high": (test["diff"] + h) / pc if pc > 0 else np.nan,
                          "prob_beat": prob_beat(xc, nc, xt, nt, rng=rng) if bayes else np.nan})
        if not has_rev:
            continue
        for metric in ("gross", "net", "cuped"):
            if metric == "net" and outcomes["net"].isna().any():
                continue
            yc = c[metric].clip(upper=cap).to_numpy() if metric != "cuped" else c[metric].to_numpy()
            yt = t[metric].clip(upper=cap).to_numpy() if metric != "cuped" else t[metric].to_numpy()
            w = welch_test(yc.mean(), yc.var(ddof=1), len(yc), yt.mean(), yt.var(ddof=1), len(yt), alpha=alpha).iloc[0]
            blo, bhi = bootstrap_mean_diff(yc, yt, n_boot=n_boot, alpha=alpha, rng=rng)
            rl, rlo, rhi = _relative(yt.mean(), yt.var(ddof=1) / len(yt), yc.mean(), yc.var(ddof=1) / len(yc), alpha)
            hh = float(confidence_sequence(w["se"] ** 2, w["se"] ** 2, tau=tau_lift * max(yc.mean(), 1e-9),
                                           alpha=alpha))
            rev_rows.append({"variant": variant, "metric": metric, "control_mean": yc.mean(),
                             "treatment_mean": yt.mean(), "diff": w["diff"], "ci_low": w["ci_low"],
                             "ci_high": w["ci_high"], "t": w["t"], "df": w["df"], "p_value": w["p_value"],
                             "boot_low": blo, "boot_high": bhi, "lift": rl, "lift_low": rlo, "lift_high": rhi,
                             "cs_low": w["diff"] - hh, "cs_high": w["diff"] + hh})
    rev = pd.DataFrame(rev_rows)
    if has_rev and len(rev):
        base = rev[rev["metric"] == "gross"].set_index("variant")
        cup = rev[rev["metric"] == "cuped"].set_index("variant")
        rev.loc[rev["metric"] == "cuped", "variance_reduction"] = (
            1 - ((cup["ci_high"] - cup["ci_low"]) / (base["ci_high"] - base["ci_low"])) ** 2).to_numpy()
        rev.attrs["theta"] = theta
    return {"conversion": pd.DataFrame(conv_rows), "revenue": rev}


def cumulative_lift(outcomes: pd.DataFrame, *, control: str, end: pd.Timestamp, alpha: float = 0.05,
                    tau_lift: float = 0.1) -> pd.DataFrame:
    """Day by day from the first exposure to ``end``: each variant's cumulative conversion as known that day and
    its relative lift over control, with the fixed-sample interval and the always-valid confidence sequence."""
    seen = max(outcomes["assigned_at"].max(), outcomes["converted_at"].max()) if outcomes["converted"].any() \
        else outcomes["assigned_at"].max()
    days = pd.date_range(outcomes["assigned_at"].min().normalize(), min(end - pd.Timedelta(seconds=1), seen).normalize())
    day_end = days + pd.Timedelta(days=1)
    variants = sorted(outcomes["variant"].unique())
    units = np.stack([np.searchsorted(np.sort(outcomes.loc[outcomes["variant"] == v, "assigned_at"].to_numpy()),
                                      day_end.to_numpy()) for v in variants])
    conv = np.stack([np.searchsorted(np.sort(outcomes.loc[(outcomes["variant"] == v) & outcomes["converted"],
                                                          "converted_at"].to_numpy()), day_end.to_numpy())
                     for v in variants])
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = conv / units
    ci = variants.index(control)
    rows = []
    z = sps.norm.ppf(1 - alpha / 2)
    for i, v in enumerate(variants):
        if i == ci:
            continue
        pc, pt = rate[ci], rate[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            var = pc * (1 - pc) / units[ci] + pt * (1 - pt) / units[i]
        h = confidence_sequence(var, var, tau=tau_lift * np.nanmax(pc), alpha=alpha) if np.nanmax(pc) > 0 else np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            rows.append(pd.DataFrame({"date": days, "variant": v, "n_units": units[ci] + units[i],
                                      "lift": pt / pc - 1, "lift_low": (pt - pc - z * np.sqrt(var)) / pc,
                                      "lift_high": (pt - pc + z * np.sqrt(var)) / pc,
                                      "cs_lift_low": (pt - pc - h) / pc, "cs_lift_high": (pt - pc + h) / pc}))
    return pd.concat(rows, ignore_index=True).replace([np.inf, -np.inf], np.nan)


def power_table(rate: float, units_per_week: float, *, n_variants: int = 2, alpha: float = 0.05,
                weeks=(1, 2, 4, 8)) -> pd.DataFrame:
    """Minimum detectable effect of the next test at this traffic: per test length, units per variant and the
    smallest difference in conversion (``stats.minimum_detectable_difference``, 80 % power) absolute and relative."""
    weeks = np.asarray(weeks, dtype=float)
    n = np.floor(units_per_week * weeks / n_variants)
    mde = minimum_detectable_difference(rate, n, n, alpha=alpha)
    return pd.DataFrame({"weeks": weeks.astype(int), "units": n, "mde": mde, "mde_relative": mde / rate})


# The review --------------------------------------------------------------------------------------------------------
def compute(ds, period, **options) -> Result:
    """Everything the A/B page shows for one experiment as known at the period's end (see module docstring).

    Options: ``experiment`` (None: the most recently started experiment with exposures in the period),
    ``control`` (the control variant's name), ``alpha``, ``srm_alpha`` (the split check's level, 0.001),
    ``cap_quantile`` (each unit's revenue capped at this quantile of the buyers' revenue), ``pre_days`` (CUPED's
    pre-period), ``planned_units`` (the planned sample, all variants; fewer units read → warning),
    ``mixture_lift`` (relative effect that scales the confidence sequence), ``bayes``, ``n_boot``, ``seed``,
    ``pending``, ``target_lift`` (the next test's effect, for its sample size), ``weeks`` (test lengths planned),
    ``min_converters`` (fewest buyers per variant for the tests, the chart and the probability to beat).
    """
    from .errors import ParameterError

    opts = _options(options)
    alpha = float(opts["alpha"])
    res = Result(NAME, period, notes={k: opts[k] for k in OPTIONS})
    exps = ds.experiments
    res.tables["overview"] = over = overview(exps, period, srm_alpha=opts["srm_alpha"])
    name = opts["experiment"]
    if name is not None and name not in set(exps["experiment"]):
        raise ParameterError(f"experiment {name!r} is not in the experiments table; it has "
                             f"{sorted(exps['experiment'].unique())}", name="experiment")
    if name is None:
        if over.empty:
            for sec in ("overview", "srm", *READOUT):
                res.gaps[sec] = Gap("experiments.gap.no_experiment", {"start": period.start.date(),
                                                                      "end": period.last_day.date()})
            return res
        name = over["experiment"].iloc[0]
    res.notes["experiment"] = name
    units = exps[(exps["experiment"] == name) & (exps["assigned_at"] < period.end)]
    counts = units.groupby("variant", observed=True).size()
    res.notes["variants"] = list(counts.index)
    if len(counts) < 2:
        for sec in ("srm", *READOUT):
            res.gaps[sec] = Gap("experiments.gap.one_variant", {"experiment": name, "n": len(counts)})
        return res
    srm = srm_test(counts.to_numpy())
    res.tables["split"] = pd.DataFrame({"variant": counts.index, "units": counts.to_numpy(),
                                        "expected_units": srm["expected"], "share": counts.to_numpy() / counts.sum(),
                                        "expected_share": srm["expected"] / counts.sum()})
    res.values.update(srm_p=srm["p_value"], srm_chi2=srm["chi2"], units=int(counts.sum()))
    control = opts["control"] if opts["control"] in counts.index else sorted(counts.index)[0]
    res.notes["control"] = control
    if srm["p_value"] < opts["srm_alpha"]:
        res.values["srm"] = True
        res.gaps["readout"] = Gap("experiments.gap.srm", {"experiment": name, "p": srm["p_value"],
                                                          "chi2": srm["chi2"], "level": opts["srm_alpha"]})
        for sec in READOUT:
            res.gaps[sec] = Gap("experiments.gap.stopped", {"experiment": name, "p": srm["p_value"]})
        return res
    res.values["srm"] = False
    if ds.orders is None and ds.events is None:
        for sec in READOUT:
            res.gaps[sec] = Gap("experiments.gap.no_outcomes", {})
        return res
    if counts.min() < 2:
        for sec in READOUT:
            res.gaps[sec] = Gap("experiments.gap.too_few", {"n": int(counts.min())})
        return res
    loaded_since, needed = getattr(ds, "orders_since", None), _orders_since(units, opts["pre_days"])
    if ds.orders is not None and loaded_since is not None and needed < loaded_since:
        raise ParameterError(f"pre_days={opts['pre_days']} needs the orders from {needed}, but the dataset was "
                             f"loaded with the orders from {loaded_since} only; load it with "
                             f"experiments.load(data_dir, pre_days={opts['pre_days']})", name="pre_days")
    out = unit_outcomes(units, orders=ds.orders, returns=ds.returns, events=ds.events, end=period.end,
                        pre_days=opts["pre_days"], pending=opts["pending"])
    has_rev = out["gross"].notna().all()
    buyers = out.loc[out["gross"] > 0, "gross"]
    cap = float(buyers.quantile(opts["cap_quantile"])) if has_rev and len(buyers) else np.inf
    res.values["cap"] = cap
    res.values["capped_units"] = int((out["gross"] > cap).sum()) if has_rev else 0
    res.tables["outcomes"] = out
    res.tables["metrics"] = variant_metrics(out, cap=cap, alpha=alpha)
    comp = compare(out, control=control, cap=cap, alpha=alpha, n_boot=int(opts["n_boot"]), seed=int(opts["seed"]),
                   tau_lift=float(opts["mixture_lift"]), bayes=bool(opts["bayes"]))
    buyers_min = int(res.tables["metrics"]["converters"].min())
    if buyers_min < int(opts["min_converters"]):
        for sec in ("tests", "sequential", "bayes", "daily"):
            res.gaps[sec] = Gap("experiments.gap.few_buyers", {"n": buyers_min, "needed": int(opts["min_converters"])})
    res.tables["conversion_tests"] = comp["conversion"]
    res.tables["revenue_tests"] = comp["revenue"]
    if not has_rev:
        res.gaps["revenue"] = Gap("experiments.gap.no_orders", {})
    elif ds.returns is None:
        res.gaps["net"] = Gap("experiments.gap.no_returns", {})
    pre = out["pre_revenue"]
    if has_rev and (pre.nunique() < 2):
        res.gaps["cuped"] = Gap("experiments.gap.no_pre", {"days": opts["pre_days"]})
    if has_rev:
        res.values["theta"] = comp["revenue"].attrs.get("theta", np.nan)
    if not opts["bayes"]:
        res.gaps["bayes"] = Gap("experiments.gap.bayes_off", {})
    planned = opts["planned_units"]
    res.values["read_early"] = bool(planned is not None and counts.sum() < int(planned))
    res.tables["daily"] = cumulative_lift(out, control=control, end=period.end, alpha=alpha,
                                          tau_lift=float(opts["mixture_lift"]))
    pc = float(res.tables["metrics"].set_index("variant").loc[control, "conversion"])
    weeks_run = max((min(period.end, units["assigned_at"].max()) - units["assigned_at"].min()).days + 1, 1) / 7
    res.values["units_per_week"] = counts.sum() / weeks_run
    if 0 < pc < 1:
        res.tables["power"] = power_table(pc, res.values["units_per_week"], n_variants=len(counts), alpha=alpha,
                                          weeks=opts["weeks"])
        res.values["needed_per_variant"] = float(sample_size(pc, opts["target_lift"], alpha=alpha))
    else:
        res.gaps["power"] = Gap("experiments.gap.no_rate", {})
    first = comp["conversion"].iloc[0]
    res.values.update(conversion_control=pc, lift=first["lift"], lift_low=first["lift_low"],
                      lift_high=first["lift_high"], p_value=first["p_value"], prob_beat=first["prob_beat"],
                      treatment=first["variant"])
    if has_rev and len(comp["revenue"]):
        r = comp["revenue"].set_index("metric")
        key = "net" if "net" in r.index else "gross"
        res.values.update(rpv_lift=r.loc[key, "lift"], rpv_p=r.loc[key, "p_value"], rpv_basis=key,
                          rpv_diff=r.loc[key, "diff"], rpv_low=r.loc[key, "ci_low"], rpv_high=r.loc[key, "ci_high"])
    return res


# Headlines, findings, sentences ---------------------------------------------------------------------------------
def _same(now, before):
    return before is not None and before.notes.get("experiment") == now.notes.get("experiment")


def headlines(now, before, msg: Messages) -> list[Headline]:
    """Index cards of the experiment read: conversion lift, revenue-per-visitor lift (net when returns are
    known) and units exposed; previous values are the same experiment as of the comparison period's end."""
    name = now.notes.get("experiment")
    if name is None:
        return []
    prev = before if _same(now, before) else None
    ok = now.has("tests")
    out = [Headline("units", msg("experiments.h.units", experiment=name), result_value(now, "units"), "count",
                    previous=result_value(prev, "units"), good=None, source="ecomlib.experiments.compute")]
    if ok:
        out.append(Headline("conversion_lift", msg("experiments.h.lift", experiment=name), result_value(now, "lift"),
                            "ratio", previous=result_value(prev, "lift") if prev is not None and prev.has("tests") else None,
                            source="ecomlib.experiments.compare"))
        if "rpv_lift" in now.values:
            out.append(Headline("rpv_lift", msg(f"experiments.h.rpv_{now.values['rpv_basis']}", experiment=name),
                                result_value(now, "rpv_lift"), "ratio", previous=result_value(prev, "rpv_lift") if prev is not None
                                and prev.has("tests") else None, source="ecomlib.experiments.compare"))
    return out


def findings(now, before, msg: Messages) -> list[Finding]:
    """Findings: a sample-ratio mismatch of any experiment active in the period (high, readout stopped); the
    experiment read — a significant conversion or revenue change (money at stake: the difference in revenue
    per visitor × units exposed in the period, the period's revenue the variant would add or lose), or no
    significant change with its interval (info); a test read before its planned sample (medium)."""
    out: list[Finding] = []
    over = now.tables.get("overview")
    if over is not None:
        for row in over[over["srm"]].to_dict("records"):
            out.append(Finding(NAME, f"srm_{row['experiment']}", msg("experiments.s.srm", experiment=row["experiment"],
                                                                      p=row["srm_p"], n=row["units"]),
                               numbers={"p_value": row["srm_p"], "chi2": row["chi2"], "units": row["units"]},
                               severity="high", confidence="significant", anchor="sec-srm",
                               source="ecomlib.experiments.srm_test"))
    if not now.has("tests"):
        return out
    v, alpha = now.values, now.notes["alpha"]
    exposed = now.tables["outcomes"]
    in_period = int((exposed["assigned_at"] >= now.period.start).sum())
    money = abs(v["rpv_diff"]) * in_period if "rpv_diff" in v else None
    significant = v["p_value"] < alpha or v.get("rpv_p", 1) < alpha
    out.append(Finding(NAME, "readout", _lift_sentence(now, msg),
                       numbers={"lift": v["lift"], "lift_low": v["lift_low"], "lift_high": v["lift_high"],
                                "p_value": v["p_value"], "rpv_lift": v.get("rpv_lift")},
                       money=money if significant else None, severity="medium" if significant else "info",
                       confidence="significant" if significant else "not_significant", anchor="sec-tests",
                       source="ecomlib.experiments.compare"))
    if v.get("read_early"):
        out.append(Finding(NAME, "read_early", msg("experiments.s.early", n=v["units"],
                                                   planned=now.notes["planned_units"]),
                           numbers={"units": v["units"], "planned": now.notes["planned_units"]}, severity="medium",
                           confidence="descriptive", anchor="sec-sequential", source="ecomlib.experiments.compute"))
    return out


def _lift_sentence(now, msg):
    v = now.values
    key = "experiments.s.lift_sig" if v["p_value"] < now.notes["alpha"] else "experiments.s.lift_ns"
    return msg(key, experiment=now.notes["experiment"], treatment=variant_label(v["treatment"], msg),
               control=variant_label(now.notes["control"], msg),
               lift=v["lift"], lo=v["lift_low"], hi=v["lift_high"], p=v["p_value"],
               conf=round(100 * (1 - now.notes["alpha"])))


def sentences(now, before, msg: Messages) -> list[str]:
    """The page's conclusions, read only from the numbers in ``now``."""
    if now.notes.get("experiment") is None:
        return [now.gaps["overview"].text(msg)]
    out = []
    if now.values.get("srm"):
        return [now.gaps["readout"].text(msg)]
    if not now.has("tests"):
        return [now.gaps["tests"].text(msg)]
    v = now.values
    out.append(_lift_sentence(now, msg))
    if "rpv_lift" in v:
        out.append(msg(f"experiments.s.rpv_{v['rpv_basis']}", lift=v["rpv_lift"], diff=v["rpv_diff"],
                       lo=v["rpv_low"], hi=v["rpv_high"], p=v["rpv_p"]))
    if now.notes["bayes"] and not np.isnan(v["prob_beat"]):
        out.append(msg("experiments.s.prob_beat", treatment=variant_label(v["treatment"], msg), prob=v["prob_beat"]))
    if v.get("read_early"):
        out.append(msg("experiments.s.early", n=v["units"], planned=now.notes["planned_units"]))
    if "needed_per_variant" in v:
        out.append(msg("experiments.s.next", lift=now.notes["target_lift"], n=v["needed_per_variant"]))
    return out


# Page helpers ---------------------------------------------------------------------------------------------------
_TABLE_COLUMNS = {
    "overview": ["experiment", "first_exposure", "last_exposure", "variants", "units", "srm_p"],
    "split": ["variant", "units", "expected_units", "share", "expected_share"],
    "metrics": ["variant", "units", "converters", "conversion", "conversion_low", "conversion_high", "rpv_gross",
                "rpv_low", "rpv_high", "rpv_net", "aov", "aov_low", "aov_high"],
    "conversion_tests": ["variant", "conversion_diff", "conversion_diff_low", "conversion_diff_high", "p_value",
                         "lift", "lift_low", "lift_high", "cs_lift_low", "cs_lift_high", "prob_beat"],
    "revenue_tests": ["variant", "metric", "control_mean", "treatment_mean", "diff", "ci_low", "ci_high",
                      "boot_low", "boot_high", "p_value", "lift", "cs_low", "cs_high", "variance_reduction"],
    "revenue_details": ["variant", "metric", "t", "df", "p_value", "lift", "lift_low", "lift_high", "ci_low", "ci_high",
                        "boot_low", "boot_high"],
    "power": ["weeks", "units", "mde", "mde_relative"],
}


def table(result, name: str, msg: Messages):
    """A result table ready to show (columns, translated headers and codes, formats from :data:`UNITS`)."""
    from .report import styled

    source = "revenue_tests" if name == "revenue_details" else name
    df = result.tables.get(source)
    if df is None or df.empty or (source in ("conversion_tests", "revenue_tests") and not result.has("tests")):
        return None
    df = df[[c for c in _TABLE_COLUMNS.get(name, list(df.columns)) if c in df]]
    if "metric" in df:
        df = df.assign(metric=df["metric"].map(lambda m: msg(f"experiments.metric.{m}")))
    if "variant" in df:
        df = df.assign(variant=df["variant"].map(lambda v: variant_label(v, msg)))
    if name == "conversion_tests" and not result.notes.get("bayes"):
        df = df.drop(columns="prob_beat")
    if name == "metrics" and not result.has("revenue"):
        df = df.drop(columns=[c for c in df if c.startswith(("rpv", "aov"))])
    if name == "metrics" and not result.has("net"):
        df = df.drop(columns="rpv_net")
    formats = {c: UNITS[c] for c in df.columns if c in UNITS}
    if name == "power":
        formats["units"] = "int"
    return styled(df, msg, formats=formats, labels=msg.labels(list(df.columns), "experiments.col."),
                  caption=msg(f"experiments.cap.{name}", conf=round(100 * (1 - result.notes["alpha"]))))


def variant_label(variant, msg: Messages) -> str:
    """A variant's name in the run's language where the catalogue knows it (``control``, ``treatment``), else as is."""
    from .i18n import catalogue

    key = f"experiments.variant.{variant}"
    return msg(key) if key in catalogue() else str(variant)


def page_note(result, name: str, msg: Messages) -> str:
    """A sentence of the page about how a section was computed, from the result's numbers and options."""
    n, v = result.notes, result.values
    if name == "experiment":
        return msg("experiments.note.experiment", experiment=n["experiment"], control=variant_label(n["control"], msg),
                   end=msg.date(result.period.last_day), n=v.get("units", 0))
    if name == "cap":
        return msg("experiments.note.cap", q=n["cap_quantile"], cap=v.get("cap"), k=v.get("capped_units", 0),
                   days=n["pre_days"], theta=v.get("theta", float("nan")))
    if name == "sequential":
        text = msg("experiments.note.sequential", tau=n["mixture_lift"])
        if v.get("read_early"):
            text += " " + msg("experiments.s.early", n=v["units"], planned=n["planned_units"])
        elif n["planned_units"] is None:
            text += " " + msg("experiments.note.no_plan")
        return text
    if name == "power":
        return msg("experiments.note.power", rate=v["conversion_control"], per_week=v["units_per_week"],
                   lift=n["target_lift"], n=v["needed_per_variant"])
    if name == "minimum":
        return msg("experiments.note.minimum") + " " + "; ".join(f"{k}: {t}" for k, t in MINIMUM_DATA.items())
    raise KeyError(f"no page note {name!r}")


def plot_lift(data: pd.DataFrame, *, x: str = "date", y: str = "lift", ax=None, msg: Messages | None = None):
    """Daily cumulative relative lift of each variant over control: the line, its fixed-sample interval (dark band)
    and the always-valid confidence sequence (light band). Returns the Axes."""
    import matplotlib.pyplot as plt

    msg = msg or Messages("en")
    ax = ax if ax is not None else plt.gca()
    for i, (variant, d) in enumerate(data.groupby("variant", sort=True)):
        color = f"C{i}"
        ax.fill_between(d[x], d["cs_lift_low"], d["cs_lift_high"], color=color, alpha=0.12,
                        label=msg("experiments.plot.cs"))
        ax.fill_between(d[x], d["lift_low"], d["lift_high"], color=color, alpha=0.25, label=msg("experiments.plot.ci"))
        ax.plot(d[x], d[y], color=color, label=variant_label(variant, msg))
    ax.axhline(0, color="0.3", lw=1)
    import matplotlib.dates as mdates

    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=7))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))  # month-day: the same in every language
    ax.yaxis.set_major_formatter(lambda v, _: msg.pct(v, 0))
    ymin, ymax = data["lift_low"].quantile(0.05), data["lift_high"].quantile(0.95)
    if np.isfinite(ymin) and np.isfinite(ymax):
        ax.set_ylim(min(ymin, -0.05) * 1.3, max(ymax, 0.05) * 1.3)
    ax.set_title(msg("experiments.plot.lift_title"))
    ax.set_xlabel(msg("experiments.plot.date"))
    ax.set_ylabel(msg("experiments.plot.lift"))
    ax.legend(loc="upper right")
    return ax
