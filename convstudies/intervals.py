"""Confidence intervals that count seed variation AND test-set sampling (numpy + scipy only).

A study's number is a mean over S training runs (seeds) of a per-example value over one
test set of N examples. What a claim is about is the expected value over *new* seeds and
*new* test examples from the same distributions, so an interval has to count both sources
of sampling. A t-interval over the S per-seed means (:func:`seed_interval`) ignores that
every seed was scored on the same finite test set, and has zero width when the seeds agree.
Bouthillier et al. (2021, "Accounting for variance in machine learning benchmarks", MLSys)
recommend counting data sampling and initialisation together; the functions here do that
with the standard estimator of a crossed two-way random-effects design (seed x example),
e.g. Searle, Casella & McCulloch, *Variance Components* (1992), ch. 4; Brennan,
*Generalizability Theory* (2001) for the p x i design.

Model for a matrix ``y`` of shape (S, N)::

    y[s, i] = mu + a_s + b_i + e_si      (seed effect, example effect, seed x example rest)

Read as the Hoeffding / ANOVA decomposition of an array with independent seeds and
independent examples (a_s = E[y | seed] - mu, b_i = E[y | example] - mu), it needs no
normality: the parts are uncorrelated and ``Var(mean y) = s_a^2/S + s_b^2/N + s_e^2/(S N)``.
Since ``E[MS_seed] = s_e^2 + N s_a^2``, ``E[MS_ex] = s_e^2 + S s_b^2``, ``E[MS_res] = s_e^2``,
``(MS_seed + MS_ex - MS_res) / (S N)`` estimates that variance without bias. A negative
variance-component estimate is truncated at zero (the usual rule); the variance is then
``max(MS_seed + MS_ex - MS_res, MS_seed, MS_ex, MS_res) / (S N)``, e.g. ``MS_ex / (S N)``
when ``MS_seed < MS_res`` (no seed component), and it is positive whenever the values are
not all identical. The interval is ``mean +- t_df sqrt(V)``.

Degrees of freedom: Welch-Satterthwaite for the linear combination of mean squares, with two
adjustments, both because MS_seed has only S - 1 = 2..4 df (the variance is unchanged):

* The plug-in Satterthwaite df is largest exactly when MS_seed came out low, i.e. when the
  standard error is too small; with S = 3 and MS_seed carrying 70-90 % of the variance,
  nominal 95 % intervals cover about 92 %. The df are therefore computed with MS_seed at its
  one-sided 75 % upper confidence limit ``MS_seed (S-1) / chi2_{S-1}(0.25)``
  (:data:`SEED_MS_DF_QUANTILE`).
* When the seed component is truncated to zero, S - 1 df cannot rule out a real one; taking
  N - 1 df (as if only MS_ex were uncertain) is where most remaining misses came from (a
  moderate seed component under heavy seed x example noise, the regime of paired differences
  and ratios). Unless even the median-unbiased ``MS_seed (S-1) / chi2_{S-1}(0.5)``
  (:data:`SEED_MS_DF_QUANTILE_TRUNCATED`) is below MS_res, the df are Satterthwaite's for the
  combination with that value.

Exact chi-square simulation of the normal model (N = 1000; N s_a^2 / s_e^2 from 0 to 100,
S s_b^2 / s_e^2 from 0.3 to 10): 95 % coverage lies in 0.947-0.974 for S = 3 and
0.949-0.972 for S = 5 (textbook Satterthwaite with truncation: 0.922-0.968, 0.942-0.967);
the high end is where seeds do not matter at all (s_a = 0), which S = 3 cannot tell from a
moderate seed effect. The simulation in ``tests/test_intervals.py`` (Bernoulli correctness,
latent example difficulty, latent seed skill, two arms sharing examples and seed indices)
checks 93-97 % coverage for an accuracy, a paired difference and a ratio at S = 3 and 5.
Known limits, measured in that simulation: with S = 3 and a seed-to-seed sd of 3 or more
points of accuracy the skew of the seed effects (accuracy saturates near 1) costs coverage
(about 0.92-0.95; more seeds, not a cleverer formula, fix that); when seeds do not matter
the intervals are conservative (0.96-0.99). Near 0 % or 100 % accuracy (a handful of
errors) a t-interval is poor for any estimator of this kind; there only the all-identical
case gets a special (Wilson) rule.

Every function takes ``(S, N)`` arrays, or stacks of them with leading batch axes
``(..., S, N)`` (one interval per stack element, vectorised, no loop over examples); a plain
(S, N) input returns Python floats, a stacked one arrays.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["paired_difference", "ratio_interval", "seed_interval", "two_way_interval", "two_way_variance"]


def seed_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t-interval over per-seed values (NaN bounds for a single value).

    For quantities that involve no test set (training loss, kernel statistics): each seed's
    value is one independent draw. Non-finite values (diverged runs) are dropped. Mirrors
    the summaries' t-intervals (``convstudies.stats`` uses this one).
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return np.nan, np.nan, np.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, np.nan, np.nan
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, m - half, m + half


def _as_matrix(y, name: str = "y") -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if y.ndim < 2:
        raise ValueError(f"{name} must have shape (S seeds, N examples) or (..., S, N); got shape {y.shape} "
                         "(a single run's per-example values are y[None, :])")
    if 0 in y.shape[-2:]:
        raise ValueError(f"{name} needs at least one seed and one example; got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError(f"{name} has non-finite values: drop diverged seeds (rows) before computing an interval")
    return y


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")


def _mean_squares(y: np.ndarray):
    """Grand mean and the three mean squares of the crossed design, over the last two axes.

    MS_seed and MS_res are NaN for S == 1, MS_ex and MS_res NaN for N == 1.
    """
    S, N = y.shape[-2:]
    m = y.mean(axis=(-2, -1))
    d = y - m[..., None, None]                    # centred first: no cancellation for means near 1
    r = d.mean(axis=-1)                           # row (seed) deviations r_s - m
    c = d.mean(axis=-2)                           # column (example) deviations c_i - m
    with np.errstate(invalid="ignore", divide="ignore"):
        ms_seed = N * (r ** 2).sum(axis=-1) / (S - 1) if S > 1 else np.full(m.shape, np.nan)
        ms_ex = S * (c ** 2).sum(axis=-1) / (N - 1) if N > 1 else np.full(m.shape, np.nan)
        if S > 1 and N > 1:
            res = d - r[..., :, None] - c[..., None, :]
            ms_res = (res ** 2).sum(axis=(-2, -1)) / ((S - 1) * (N - 1))
        else:
            ms_res = np.full(m.shape, np.nan)
    return m, ms_seed, ms_ex, ms_res


# The seed mean square enters the degrees of freedom as MS_seed (S-1) / chi2_{S-1}(q): at its
# 75 % upper confidence limit (q = 0.25), and, where the seed component is truncated to zero,
# at its median-unbiased value (q = 0.5); see the module docstring and two_way_variance.
SEED_MS_DF_QUANTILE = 0.25
SEED_MS_DF_QUANTILE_TRUNCATED = 0.5


def _satterthwaite(ms_seed, ms_ex, ms_res, S: int, N: int):
    """Welch-Satterthwaite df of ``MS_seed + MS_ex - MS_res``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ms_seed + ms_ex - ms_res) ** 2 / (
            ms_seed ** 2 / (S - 1) + ms_ex ** 2 / (N - 1) + ms_res ** 2 / ((S - 1) * (N - 1)))


def _seed_ms_at(ms_seed, S: int, q: float):
    """MS_seed (S-1) / chi2_{S-1}(q): the value of E[MS_seed] at confidence quantile q."""
    return ms_seed * (S - 1) / stats.chi2.ppf(q, S - 1)


def two_way_variance(y, adjust_df: bool = True) -> tuple:
    """Estimated variance of ``mean(y)`` and the degrees of freedom of its t-interval.

    ``y`` is (S, N) or (..., S, N). For S > 1 and N > 1 the variance is
    ``(MS_seed + MS_ex - MS_res) / (S N)`` with negative variance components truncated at
    zero (module docstring). The df are Welch-Satterthwaite's
    ``(M_s + MS_ex - MS_res)^2 / (M_s^2/(S-1) + MS_ex^2/(N-1) + MS_res^2/((S-1)(N-1)))``
    with ``M_s`` = MS_seed at its 75 % upper confidence limit (``adjust_df=True``, the
    default) or MS_seed itself (``adjust_df=False``, textbook Satterthwaite). A truncated
    combination takes the df of the mean square left (``MS_ex``: N - 1, ``MS_seed``: S - 1,
    ``MS_res``: (S-1)(N-1)), except that with ``adjust_df`` a truncated seed component whose
    median-unbiased ``M_s`` exceeds MS_res still gets the Satterthwaite df with that ``M_s``.

    For S == 1 only test sampling is visible: the variance is ``MS_ex / N`` (the ordinary
    squared standard error of a mean over N examples) with N - 1 df, and the seed variance,
    which one run cannot show, is left out (the interval is too narrow by that much). For
    N == 1 (one value per seed) it is ``MS_seed / S`` with S - 1 df, the seed t-interval. For
    S == N == 1 both are NaN. If all values are identical the variance is 0 (df inf).
    """
    y = _as_matrix(y)
    S, N = y.shape[-2:]
    _, ms_seed, ms_ex, ms_res = _mean_squares(y)
    if S > 1 and N > 1:
        seed_neg, ex_neg = ms_seed < ms_res, ms_ex < ms_res
        branches = [~seed_neg & ~ex_neg, seed_neg & ~ex_neg, ~seed_neg & ex_neg]   # else: both truncated
        var = np.select(branches, [ms_seed + ms_ex - ms_res, ms_ex, ms_seed], ms_res)
        if adjust_df:
            df_full = _satterthwaite(_seed_ms_at(ms_seed, S, SEED_MS_DF_QUANTILE), ms_ex, ms_res, S, N)
            ms_seed_med = _seed_ms_at(ms_seed, S, SEED_MS_DF_QUANTILE_TRUNCATED)
            df_ex = np.where(ms_seed_med > ms_res, _satterthwaite(ms_seed_med, ms_ex, ms_res, S, N), N - 1.0)
        else:
            df_full, df_ex = _satterthwaite(ms_seed, ms_ex, ms_res, S, N), np.full_like(var, N - 1.0)
        df = np.select(branches, [df_full, df_ex, np.full_like(var, S - 1.0)], float((S - 1) * (N - 1)))
        # all values identical: every mean square is 0 (df_full is 0/0); df is irrelevant then
        df = np.where(var > 0, df, np.inf)
    elif N > 1:
        var, df = ms_ex, np.full_like(ms_ex, N - 1)
    elif S > 1:
        var, df = ms_seed, np.full_like(ms_seed, S - 1)
    else:
        var = df = np.full(y.shape[:-2], np.nan)
    var = var / (S * N)
    return (float(var), float(df)) if y.ndim == 2 else (var, df)


def _infer_bounds(y: np.ndarray) -> tuple[float, float]:
    """The range per-example values can take, guessed from the values: [0, 1] (correctness,
    a proportion), [-1, 1] (a difference of two of those), otherwise unbounded."""
    if y.min() >= 0 and y.max() <= 1:
        return 0.0, 1.0
    if y.min() >= -1 and y.max() <= 1:
        return -1.0, 1.0
    return -np.inf, np.inf


def _two_way(y: np.ndarray, level: float, lo_b, hi_b):
    """Vectorised core: estimate, lower, upper (arrays over the batch axes)."""
    S, N = y.shape[-2:]
    m = y.mean(axis=(-2, -1))
    var, df = two_way_variance(y)
    var, df = np.asarray(var, dtype=float), np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        half = stats.t.ppf(0.5 + level / 2, df) * np.sqrt(var)
    lo, hi = m - half, m + half
    # All values identical: no spread to measure, but the test set is still finite. Treat each
    # of the N examples as a trial in which no example deviated from the common value c; the
    # two-sided Wilson bound on the share p of population examples that deviate is
    # p_u = z^2 / (N + z^2) (about 3.8/N at 95 %, cf. the rule of three); such examples can
    # move the mean at most to the ends of the value range, so the interval is
    # [c - (c - lo_b) p_u, c + (hi_b - c) p_u]. For c = 1 and range [0, 1] that is Wilson's
    # [N/(N + z^2), 1]. Examples, not S*N cells, count as the trials: seeds that agree on an
    # example are not independent evidence about new examples.
    const = np.ptp(y.reshape(*y.shape[:-2], S * N), axis=-1) == 0
    if np.any(const):
        z = stats.norm.ppf(0.5 + level / 2)
        p_u = z ** 2 / (N + z ** 2)
        with np.errstate(invalid="ignore"):
            c_lo = np.where(np.isneginf(lo_b), -np.inf, m - (m - lo_b) * p_u)
            c_hi = np.where(np.isposinf(hi_b), np.inf, m + (hi_b - m) * p_u)
        lo, hi = np.where(const, c_lo, lo), np.where(const, c_hi, hi)
    return m, lo, hi


def _out(m, lo, hi, batched: bool):
    if batched:
        return np.asarray(m, dtype=float), np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    return float(m), float(lo), float(hi)


def two_way_interval(y, level: float = 0.95, bounds: tuple[float, float] | None = None):
    """Mean of ``y`` and a ``level`` interval counting seed AND test-example sampling.

    ``y[s, i]`` is seed s's per-example value on test example i (correctness 0/1, a loss, or a
    per-example difference of two arms trained with the same seed index); shape (S, N), or
    (..., S, N) for many independent matrices at once. The estimate is ``y.mean()``; the
    target is its expectation over new seeds and new test examples. The interval is
    ``m +- t_df * sqrt(V)`` with V, df from :func:`two_way_variance` (the crossed two-way
    random-effects estimator, Satterthwaite df; see the module docstring). S == 1 gives a
    test-sampling-only interval (``MS_ex/N``, N - 1 df: the ordinary t-interval over the N
    examples, which cannot see seed variance), N == 1 the seed t-interval.

    If all values are identical (every seed right on every example, say) there is no spread
    to estimate, yet N is finite: the interval is then ``[c - (c - lo) p_u, c + (hi - c) p_u]``
    with ``p_u = z^2/(N + z^2)``, the two-sided Wilson upper bound on the share of examples that
    would deviate from c given that none of the N did, and ``(lo, hi) = bounds`` the range
    the per-example values can take (default: [0, 1] when the values lie there, [-1, 1] when
    they lie there, otherwise unbounded, giving an infinite side: a constant sample of an
    unbounded quantity cannot bound its mean). For proportions this is Wilson's interval for
    0 (or N) successes out of N. So the width is never zero for finite N. A single cell
    (S == N == 1) is such a constant matrix.
    """
    _check_level(level)
    y = _as_matrix(y)
    lo_b, hi_b = _infer_bounds(y) if bounds is None else bounds
    return _out(*_two_way(y, level, lo_b, hi_b), batched=y.ndim > 2)


def paired_difference(ya, yb, level: float = 0.95, bounds: tuple[float, float] | None = None):
    """``mean(ya - yb)`` and its interval, for two arms scored on the same examples with the
    same seed indices (row s of both came from seed index s): :func:`two_way_interval` of the
    per-cell difference. Pairing on examples removes the shared example difficulty from the
    variance (and pairing on seeds what the two runs of a seed share).

    ``bounds`` is the range of each arm's per-example values (default inferred as in
    :func:`two_way_interval`); the difference then lies in ``[lo - hi, hi - lo]``.
    """
    ya, yb = _as_matrix(ya, "ya"), _as_matrix(yb, "yb")
    if ya.shape != yb.shape:
        raise ValueError(f"ya and yb must share seeds and examples: shapes {ya.shape} and {yb.shape}")
    (la, ha), (lb, hb) = (bounds, bounds) if bounds is not None else (_infer_bounds(ya), _infer_bounds(yb))
    return two_way_interval(ya - yb, level, bounds=(la - hb, ha - lb))


def ratio_interval(ya, yb, level: float = 0.95, bounds: tuple[float, float] | None = None):
    """``R = mean(ya) / mean(yb)`` and a delta-method interval (e.g. error rate of arm A over
    error rate of arm B, on shared examples and seed indices).

    Linearisation: ``R_hat - R ~ mean(z)`` with ``z = (ya - R yb) / mean(yb)``, so the two-way
    variance of z (same crossed estimator and Satterthwaite df) is the variance of R_hat, and
    the interval is ``R +- t_df * se``. NaN when ``mean(yb)`` is 0. If z is constant (e.g. arm
    A never errs, R = 0) the constant rule of :func:`two_way_interval` applies to z with the
    range z can take given ``bounds`` (the range of each arm's values, default inferred),
    e.g. ``[0, p_u / mean(yb)]`` for R = 0 with 0/1 errors.
    """
    _check_level(level)
    ya, yb = _as_matrix(ya, "ya"), _as_matrix(yb, "yb")
    if ya.shape != yb.shape:
        raise ValueError(f"ya and yb must share seeds and examples: shapes {ya.shape} and {yb.shape}")
    (la, ha), (lb, hb) = (bounds, bounds) if bounds is not None else (_infer_bounds(ya), _infer_bounds(yb))
    ma, mb = ya.mean(axis=(-2, -1)), yb.mean(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = ma / mb
        ok = np.isfinite(r)
        r_safe, mb_safe = np.where(ok, r, 0.0), np.where(ok, mb, 1.0)
        z = (ya - r_safe[..., None, None] * yb) / mb_safe[..., None, None]
        # range of z = (ya - R yb) / mean(yb), by interval arithmetic (0 * inf taken as 0)
        rl = np.where(r_safe == 0, 0.0, r_safe * lb)
        rh = np.where(r_safe == 0, 0.0, r_safe * hb)
        num_lo, num_hi = la - np.maximum(rl, rh), ha - np.minimum(rl, rh)
        z_lo = np.where(mb_safe > 0, num_lo, num_hi) / mb_safe
        z_hi = np.where(mb_safe > 0, num_hi, num_lo) / mb_safe
    mz, lo, hi = _two_way(z, level, z_lo, z_hi)
    lo, hi = r + (lo - mz), r + (hi - mz)
    r, lo, hi = (np.where(ok, v, np.nan) for v in (r, lo, hi))
    return _out(r, lo, hi, batched=ya.ndim > 2)
