"""Intervals over seeds AND test examples (convstudies.intervals): unit checks and a coverage simulation.

The simulation draws, per replication, one test set of N examples (latent difficulty from a
mixture of easy and hard examples, and an example-specific arm benefit) shared by every
seed and arm, S seeds per arm (latent skill, correlated between the arms' runs of one seed
index), and per-example correctness ~ Bernoulli(sigmoid(skill + arm effect + benefit -
difficulty)), the two arms' draws of one seed and example coupled by a Gaussian copula. The
truth is the population value over new seeds and new examples, computed exactly: the logit
is a normal mixture, so every expectation is a one-dimensional Gauss-Hermite integral (and
a test checks it against a large Monte Carlo draw with a fixed seed).

Over 6,000 replications per cell (not run here) coverage was: accuracy 0.965 (S=3) and 0.952
(S=5), paired difference 0.955 and 0.961, ratio 0.945 and 0.953; the 1,000 replications
below have a Monte Carlo standard error of about 0.007.
"""
import numpy as np
import pytest
from scipy import special, stats

from convstudies.intervals import (
    SEED_MS_DF_QUANTILE,
    SEED_MS_DF_QUANTILE_TRUNCATED,
    paired_difference,
    ratio_interval,
    seed_interval,
    two_way_interval,
    two_way_variance,
)

REPS = 1000
CHUNK = 250                          # replications drawn at once (memory: CHUNK * S * N per array)
EASY_HARD = [(0.75, -4.0, 1.0), (0.25, 0.0, 1.5)]    # difficulty mixture: (weight, mean, sd)

# design -> (N, parameters); arm 0 = A, arm 1 = B
DESIGNS = {
    # (1) absolute level: accuracy of one arm, seed sd about 1.5 points of accuracy
    "accuracy": (1000, {"sd_skill": 0.25, "rho": 0.0, "effect": (0.0, 0.0), "benefit": (0.0, 0.0), "kappa": 0.0}),
    # (2) paired difference of two arms on shared examples and seed indices
    "difference": (500, {"sd_skill": 0.2, "rho": 0.5, "effect": (0.3, 0.0), "benefit": (0.7, 0.0), "kappa": 0.3}),
    # (3) ratio: error rate of A over error rate of B
    "ratio": (800, {"sd_skill": 0.2, "rho": 0.3, "effect": (0.5, 0.0), "benefit": (0.5, 0.0), "kappa": 0.3}),
}


def _mean_sigmoid(mu: float, var: float) -> float:
    x, w = np.polynomial.hermite_e.hermegauss(150)
    return float((w * special.expit(mu + np.sqrt(var) * x)).sum() / w.sum())


def population_accuracy(p: dict, arm: int) -> float:
    """E[sigmoid(skill + effect + benefit*g - d)] over new seeds and new examples (exact):
    given the mixture component the logit is normal, so each term is a 1-d integral."""
    return sum(w * _mean_sigmoid(p["effect"][arm] - mu, p["sd_skill"] ** 2 + p["benefit"][arm] ** 2 + sd ** 2)
               for w, mu, sd in EASY_HARD)


def truth(design: str) -> float:
    p = DESIGNS[design][1]
    acc_a, acc_b = population_accuracy(p, 0), population_accuracy(p, 1)
    return {"accuracy": acc_a, "difference": acc_a - acc_b, "ratio": (1 - acc_a) / (1 - acc_b)}[design]


def simulate(rng, reps: int, S: int, N: int, p: dict):
    """Correctness of arms A and B, each (reps, S, N); every replication has its own test set."""
    weights, mus, sds = (np.array(v) for v in zip(*EASY_HARD))
    k = rng.choice(len(weights), size=(reps, 1, N), p=weights)
    difficulty = mus[k] + sds[k] * rng.standard_normal((reps, 1, N))
    g = rng.standard_normal((reps, 1, N))                       # which examples an arm helps
    shared = rng.standard_normal((reps, S, 1))                  # what one seed index gives both arms
    eps = rng.standard_normal((reps, S, N))
    out = []
    for arm in (0, 1):
        skill = p["sd_skill"] * (np.sqrt(p["rho"]) * shared + np.sqrt(1 - p["rho"]) * rng.standard_normal((reps, S, 1)))
        if arm:
            eps = p["kappa"] * eps + np.sqrt(1 - p["kappa"] ** 2) * rng.standard_normal((reps, S, N))
        prob = special.expit(skill + p["effect"][arm] + p["benefit"][arm] * g - difficulty)
        out.append((special.ndtr(eps) < prob).astype(float))
    return out


def coverage(design: str, S: int, seed: int) -> tuple[float, float]:
    """Share of REPS replications whose 95 % interval covers the truth, and the mean width."""
    N, p = DESIGNS[design]
    target = truth(design)
    rng = np.random.default_rng(seed)
    covered, widths = [], []
    for _ in range(REPS // CHUNK):
        ya, yb = simulate(rng, CHUNK, S, N, p)
        if design == "accuracy":
            _, lo, hi = two_way_interval(ya)
        elif design == "difference":
            _, lo, hi = paired_difference(ya, yb)
        else:
            _, lo, hi = ratio_interval(1 - ya, 1 - yb)
        covered.append((lo <= target) & (target <= hi))
        widths.append(hi - lo)
    return float(np.concatenate(covered).mean()), float(np.concatenate(widths).mean())


@pytest.mark.parametrize("S", [3, 5])
@pytest.mark.parametrize("design", list(DESIGNS))
def test_95_percent_intervals_cover_the_population_value_93_to_97_percent(design, S):
    cover, width = coverage(design, S, seed=1000 * S + list(DESIGNS).index(design))
    print(f"{design} S={S} N={DESIGNS[design][0]}: coverage {cover:.3f}, mean width {width:.4f}")
    assert 0.93 <= cover <= 0.97, f"{design}, S={S}: coverage {cover:.3f}"


@pytest.mark.parametrize("design", list(DESIGNS))
def test_the_exact_truth_agrees_with_a_large_monte_carlo_draw(design):
    """New seeds and new examples drawn together: 4e6 (seed, example) pairs per arm."""
    p = DESIGNS[design][1]
    rng = np.random.default_rng(7)
    accs, ses = [], []
    for arm in (0, 1):
        n = 4_000_000
        weights, mus, sds = (np.array(v) for v in zip(*EASY_HARD))
        k = rng.choice(len(weights), size=n, p=weights)
        logit = (p["sd_skill"] * rng.standard_normal(n) + p["effect"][arm] + p["benefit"][arm] * rng.standard_normal(n)
                 - (mus[k] + sds[k] * rng.standard_normal(n)))
        prob = special.expit(logit)
        accs.append(prob.mean())
        ses.append(prob.std() / np.sqrt(n))
        assert abs(accs[-1] - population_accuracy(p, arm)) < 5 * ses[-1]
    mc = {"accuracy": accs[0], "difference": accs[0] - accs[1], "ratio": (1 - accs[0]) / (1 - accs[1])}[design]
    assert mc == pytest.approx(truth(design), abs=2e-3)


# ---------------------------------------------------------------- the variance estimator by hand

HAND = np.array([[0.9, 0.4, 0.7, 0.2],
                 [0.8, 0.1, 0.6, 0.3],
                 [0.5, 0.2, 0.4, 0.0]])         # MS_seed, MS_ex > MS_res: no component truncated


def _textbook_mean_squares(y):
    S, N = len(y), len(y[0])
    m = sum(sum(row) for row in y) / (S * N)
    r = [sum(y[s]) / N for s in range(S)]
    c = [sum(y[s][i] for s in range(S)) / S for i in range(N)]
    ss_seed = N * sum((r[s] - m) ** 2 for s in range(S))
    ss_ex = S * sum((c[i] - m) ** 2 for i in range(N))
    ss_res = sum((y[s][i] - r[s] - c[i] + m) ** 2 for s in range(S) for i in range(N))
    return m, ss_seed / (S - 1), ss_ex / (N - 1), ss_res / ((S - 1) * (N - 1))


def test_the_variance_estimator_matches_a_direct_computation_on_a_hand_made_matrix():
    S, N = HAND.shape
    m, ms_seed, ms_ex, ms_res = _textbook_mean_squares(HAND.tolist())
    assert ms_seed > ms_res and ms_ex > ms_res          # both components positive: no truncation
    var_hand = (ms_seed + ms_ex - ms_res) / (S * N)
    df_hand = (ms_seed + ms_ex - ms_res) ** 2 / (ms_seed ** 2 / (S - 1) + ms_ex ** 2 / (N - 1)
                                                  + ms_res ** 2 / ((S - 1) * (N - 1)))
    var, df = two_way_variance(HAND, adjust_df=False)
    assert var == pytest.approx(var_hand, rel=1e-12)
    assert df == pytest.approx(df_hand, rel=1e-12)
    # the default df put MS_seed at its 75 % upper confidence limit; the variance is the same
    ms_up = ms_seed * (S - 1) / stats.chi2.ppf(SEED_MS_DF_QUANTILE, S - 1)
    var_adj, df_adj = two_way_variance(HAND)
    assert var_adj == pytest.approx(var_hand, rel=1e-12)
    assert df_adj == pytest.approx((ms_up + ms_ex - ms_res) ** 2 / (
        ms_up ** 2 / (S - 1) + ms_ex ** 2 / (N - 1) + ms_res ** 2 / ((S - 1) * (N - 1))), rel=1e-12)
    est, lo, hi = two_way_interval(HAND)
    assert est == pytest.approx(m)
    assert hi - est == pytest.approx(est - lo)
    assert hi - est == pytest.approx(stats.t.ppf(0.975, df_adj) * np.sqrt(var_hand), rel=1e-12)


def test_a_negative_seed_component_is_truncated_to_zero():
    y = np.array([[1.0, 0.0, 1.0, 1.0, 0.0],
                  [1.0, 0.0, 1.0, 0.0, 1.0],
                  [1.0, 0.0, 0.0, 1.0, 1.0]])            # equal row means: MS_seed = 0 < MS_res
    S, N = y.shape
    _, ms_seed, ms_ex, ms_res = _textbook_mean_squares(y.tolist())
    assert ms_seed < ms_res < ms_ex
    for adjust in (True, False):
        var, df = two_way_variance(y, adjust_df=adjust)
        assert var == pytest.approx(ms_ex / (S * N)) and df == N - 1
        assert var > (ms_seed + ms_ex - ms_res) / (S * N)
    # MS_seed a little below MS_res: the variance is still MS_ex / (S N), but the df are
    # Satterthwaite's with MS_seed at its median-unbiased value, not N - 1
    y = y + np.array([[0.0], [0.2], [0.4]])
    _, ms_seed, ms_ex, ms_res = _textbook_mean_squares(y.tolist())
    ms_med = ms_seed * (S - 1) / stats.chi2.ppf(SEED_MS_DF_QUANTILE_TRUNCATED, S - 1)
    assert ms_seed < ms_res < ms_med
    var, df = two_way_variance(y)
    assert var == pytest.approx(ms_ex / (S * N))
    assert df == pytest.approx((ms_med + ms_ex - ms_res) ** 2 / (
        ms_med ** 2 / (S - 1) + ms_ex ** 2 / (N - 1) + ms_res ** 2 / ((S - 1) * (N - 1))))
    assert two_way_variance(y, adjust_df=False)[1] == N - 1


def test_the_variance_estimate_is_unbiased_in_an_additive_model():
    rng = np.random.default_rng(3)
    S, N, sa, sb, se = 3, 50, 0.4, 1.0, 2.0
    y = (sa * rng.standard_normal((4000, S, 1)) + sb * rng.standard_normal((4000, 1, N))
         + se * rng.standard_normal((4000, S, N)))
    var, _ = two_way_variance(y, adjust_df=False)
    true = sa ** 2 / S + sb ** 2 / N + se ** 2 / (S * N)
    assert var.mean() == pytest.approx(true, rel=0.05)
    assert y.mean(axis=(1, 2)).var() == pytest.approx(true, rel=0.1)


# ---------------------------------------------------------------- widths, degenerate cases

def test_no_zero_width_when_every_seed_agrees_on_every_example():
    """The old seed t-interval has zero width here; the test set is still finite."""
    rng = np.random.default_rng(0)
    row = (rng.random(500) < 0.9).astype(float)
    y = np.tile(row, (3, 1))
    _, lo_seed, hi_seed = seed_interval(y.mean(axis=1))
    assert hi_seed - lo_seed == 0
    est, lo, hi = two_way_interval(y)
    assert lo < est < hi
    # roughly the binomial standard error of a proportion over 500 examples
    assert (hi - lo) / 2 == pytest.approx(1.96 * np.sqrt(row.mean() * (1 - row.mean()) / 500), rel=0.05)


@pytest.mark.parametrize("shape", [(1, 2), (2, 1), (2, 2), (3, 500), (5, 1000)])
def test_the_width_is_positive_for_any_non_constant_matrix(shape):
    rng = np.random.default_rng(1)
    for _ in range(50):
        y = (rng.random(shape) < rng.choice([0.002, 0.5, 0.998])).astype(float)
        if np.ptp(y) == 0:
            y.flat[rng.integers(y.size)] = 1 - y.flat[0]
        _, lo, hi = two_way_interval(y)
        assert np.isfinite(lo) and np.isfinite(hi) and hi > lo


@pytest.mark.parametrize("S", [1, 3, 5])
def test_a_constant_matrix_gets_the_wilson_interval_of_its_n_examples(S):
    N, z2 = 500, stats.norm.ppf(0.975) ** 2
    assert two_way_interval(np.ones((S, N))) == pytest.approx((1.0, N / (N + z2), 1.0))
    assert two_way_interval(np.zeros((S, N))) == pytest.approx((0.0, 0.0, z2 / (N + z2)))
    # (Wilson's score interval for N successes in N trials)
    # a paired difference of identical arms: both signs possible
    assert paired_difference(np.ones((S, N)), np.ones((S, N))) == pytest.approx((0.0, -z2 / (N + z2), z2 / (N + z2)))
    # an unbounded constant cannot bound its mean, unless the range is given
    assert two_way_interval(np.full((S, N), 2.5))[1:] == (-np.inf, np.inf)
    _, lo, hi = two_way_interval(np.full((S, N), 2.5), bounds=(0.0, 10.0))
    assert lo == pytest.approx(2.5 - 2.5 * z2 / (N + z2)) and hi == pytest.approx(2.5 + 7.5 * z2 / (N + z2))


def test_one_seed_gives_the_t_interval_over_examples():
    rng = np.random.default_rng(2)
    row = (rng.random(800) < 0.85).astype(float)
    est, lo, hi = two_way_interval(row[None, :])
    assert (est, lo, hi) == pytest.approx(seed_interval(row))     # m +- t_{N-1} sd / sqrt(N)
    assert np.isfinite(lo) and hi > lo
    var, df = two_way_variance(row[None, :])
    assert df == 799 and var == pytest.approx(row.var(ddof=1) / 800)


def test_one_example_per_seed_gives_the_seed_t_interval():
    v = np.array([0.91, 0.93, 0.90, 0.94])
    assert two_way_interval(v[:, None]) == pytest.approx(seed_interval(v))


def test_a_single_cell_is_a_constant_matrix():
    z2 = stats.norm.ppf(0.975) ** 2
    assert two_way_interval(np.array([[1.0]])) == pytest.approx((1.0, 1 / (1 + z2), 1.0))
    assert np.isnan(two_way_variance(np.array([[1.0]]))[0])


# ---------------------------------------------------------------- pairing, ratio, batches

def test_pairing_on_shared_examples_narrows_the_interval_of_a_difference():
    """Arms correlated through shared examples: the paired interval is narrower than one that
    treats the arms as independent samples (variances added)."""
    p = DESIGNS["difference"][1]
    ya, yb = simulate(np.random.default_rng(4), 1, 3, 500, p)
    ya, yb = ya[0], yb[0]
    est, lo, hi = paired_difference(ya, yb)
    assert est == pytest.approx(ya.mean() - yb.mean())
    va, dfa = two_way_variance(ya)
    vb, dfb = two_way_variance(yb)
    df_unpaired = (va + vb) ** 2 / (va ** 2 / dfa + vb ** 2 / dfb)
    half_unpaired = stats.t.ppf(0.975, df_unpaired) * np.sqrt(va + vb)
    assert (hi - lo) / 2 < 0.8 * half_unpaired


def test_the_ratio_interval_is_the_delta_method_interval():
    p = DESIGNS["ratio"][1]
    ya, yb = simulate(np.random.default_rng(5), 1, 5, 800, p)
    ea, eb = 1 - ya[0], 1 - yb[0]
    r, lo, hi = ratio_interval(ea, eb)
    assert r == pytest.approx(ea.mean() / eb.mean())
    z = (ea - r * eb) / eb.mean()
    var, df = two_way_variance(z)
    half = stats.t.ppf(0.975, df) * np.sqrt(var)
    assert (lo, hi) == pytest.approx((r - half, r + half))
    assert lo < r < hi


def test_ratio_degenerate_cases():
    N, z2 = 400, stats.norm.ppf(0.975) ** 2
    errs_b = np.zeros((3, N))
    errs_b[:, :40] = 1.0
    r, lo, hi = ratio_interval(np.zeros((3, N)), errs_b)      # arm A never errs
    assert r == 0 and lo == pytest.approx(0) and hi == pytest.approx(z2 / (N + z2) / 0.1)
    r, lo, hi = ratio_interval(errs_b, np.zeros((3, N)))      # denominator 0
    assert np.isnan(r) and np.isnan(lo) and np.isnan(hi)


def test_stacked_matrices_give_the_same_intervals_as_one_at_a_time():
    rng = np.random.default_rng(6)
    ya = (rng.random((7, 3, 60)) < 0.8).astype(float)
    yb = (rng.random((7, 3, 60)) < 0.7).astype(float)
    ya[2] = 1.0                                             # a constant member uses its own rule
    for fn, args in [(two_way_interval, (ya,)), (paired_difference, (ya, yb)), (ratio_interval, (1 - yb, 1 - ya))]:
        batch = np.stack(fn(*args), axis=-1)
        one = np.array([fn(*(a[k] for a in args)) for k in range(7)])
        np.testing.assert_allclose(batch, one, rtol=1e-12)


def test_level_and_shape_checks():
    y = np.ones((3, 10))
    with pytest.raises(ValueError, match="shape"):
        two_way_interval(np.ones(10))
    with pytest.raises(ValueError, match="non-finite"):
        two_way_interval(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="share seeds and examples"):
        paired_difference(y, np.ones((3, 11)))
    with pytest.raises(ValueError, match="level"):
        two_way_interval(y, level=95)
    rng = np.random.default_rng(8)
    y = rng.random((3, 200))
    w90 = np.diff(two_way_interval(y, level=0.90)[1:])
    w99 = np.diff(two_way_interval(y, level=0.99)[1:])
    assert w90 < w99


def test_seed_interval_mirrors_the_stats_t_interval():
    from convstudies.stats import t_interval

    v = np.array([0.12, 0.15, np.nan, 0.11, 0.14])
    assert seed_interval(v) == pytest.approx(t_interval(v))
    assert np.isnan(seed_interval([0.3])[1])
    assert np.isnan(seed_interval([])[0])


def test_the_module_needs_neither_torch_nor_pandas():
    import subprocess
    import sys

    code = "import sys, convstudies.intervals; print(sorted({'torch', 'pandas'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
