"""Every training-time density against its formula by a Kolmogorov-Smirnov test (METHODS.md §4.3,
§10 items 5-7), the shift on top of any of them, and the map onto [train.t_min, train.t_max]."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from diffusion_specs import PATHS, SAFE_RANGES, spec
from scipy import stats

N = 20000


def draws(m, n: int = N, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return m.sample_time(n, g).double()


def sampling_spec(time_sampling: str, path: str = "rectified", train: str = "") -> str:
    return spec(
        PATHS[path], train, f"weighting: {{kind: uniform, time_sampling: {time_sampling}}}\n"
    )


def logit_normal_cdf(m: float, s: float):
    return lambda t: stats.norm.cdf((np.log(t / (1 - t)) - m) / s)


def mode_cdf(s: float):
    """P(T <= t) = 1 - r(t), t(r) = 1 - r - s*(cos^2(pi r/2) - 1 + r) decreasing; r by bisection."""

    def cdf(ts):
        ts = np.asarray(ts, dtype=np.float64)
        lo, hi = np.zeros_like(ts), np.ones_like(ts)
        for _ in range(60):  # bisection on every point at once
            mid = 0.5 * (lo + hi)
            above = 1 - mid - s * (np.cos(np.pi * mid / 2) ** 2 - 1 + mid) > ts
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        return 1 - 0.5 * (lo + hi)

    return cdf


CASES = [
    ("{kind: uniform}", lambda t: t),
    ("{kind: logit_normal, m: 0.5, s: 0.8}", logit_normal_cdf(0.5, 0.8)),
    ("{kind: mode, s: 1.29}", mode_cdf(1.29)),
    ("{kind: mode, s: -0.8}", mode_cdf(-0.8)),
    ("{kind: cosmap}", lambda t: (2 / np.pi) * np.arctan(t / (1 - t))),
    ("{kind: edm_lognormal}", logit_normal_cdf(-1.2, 1.2)),
    # shift alpha on top: tau = t'/(alpha - (alpha - 1) t'); logit-normal moves by log(alpha)
    ("{kind: uniform, shift: 3.0}", lambda t: t / (3 - 2 * t)),
    ("{kind: logit_normal, m: 0.5, s: 0.8, shift: 3.0}", logit_normal_cdf(0.5 + math.log(3), 0.8)),
    ("{kind: edm_lognormal, shift: 0.5}", logit_normal_cdf(-1.2 + math.log(0.5), 1.2)),
]


@pytest.mark.parametrize("time_sampling,cdf", CASES, ids=[c[0] for c in CASES])
def test_density_matches_its_formula(build_module, time_sampling, cdf):
    m = build_module(sampling_spec(time_sampling))
    t = draws(m)
    assert float(t.min()) >= 0 and float(t.max()) <= 1
    result = stats.kstest(t.numpy(), cdf)
    assert result.pvalue > 1e-3, (result, time_sampling)


def test_edm_lognormal_median_and_its_log_snr_on_another_path(build_module):
    """On the rectified path the median is sigmoid(-1.2) = 0.2315; on any path lambda_t of the
    draws is N(-2 P_mean, (2 P_std)^2), since sigma_t/alpha_t is EDM's sigma."""
    t = draws(build_module(sampling_spec("{kind: edm_lognormal}")))
    assert float(t.median()) == pytest.approx(1 / (1 + math.exp(1.2)), abs=0.006)
    m = build_module(sampling_spec("{kind: edm_lognormal}", "vp_cosine"), prune=False)
    lam = m.log_snr(draws(m))
    assert stats.kstest(lam.numpy(), stats.norm(2.4, 2.4).cdf).pvalue > 1e-3


def test_train_range_maps_the_draws(build_module):
    m = build_module(sampling_spec("{kind: uniform}", train="train: {t_min: 0.1, t_max: 0.6}\n"))
    t = draws(m)
    assert stats.kstest(t.numpy(), stats.uniform(0.1, 0.5).cdf).pvalue > 1e-3


def test_shift_moves_the_log_snr_by_twice_log_alpha(build_module):
    """lambda(t') = lambda(t) - 2 log(alpha); Flux's time_shift(mu, 1, t) = e^mu/(e^mu + 1/t - 1)
    is the shift with alpha = e^mu (METHODS.md §10 item 6)."""
    m = build_module(sampling_spec("{kind: uniform, shift: 3.0}"), prune=False)
    t = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
    shifted = m.shift_time(t, 3.0)
    torch.testing.assert_close(m.log_snr(shifted), m.log_snr(t) - 2 * math.log(3.0))
    mu = 0.8
    flux = math.exp(mu) / (math.exp(mu) + 1 / t - 1)
    torch.testing.assert_close(m.shift_time(t, math.exp(mu)), flux)


def test_a_density_is_a_weight(build_module):
    """E_{t~pi}[f(t)] = E_{t~U}[pi(t) f(t)] (METHODS.md §10 item 7), with the cosmap draws."""
    t = draws(build_module(sampling_spec("{kind: cosmap}")), n=200000)
    u = torch.rand(200000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def f(x):
        return (x - 0.3) ** 2

    pi = 2 / (math.pi * (u**2 + (1 - u) ** 2))
    assert float(f(t).mean()) == pytest.approx(float((pi * f(u)).mean()), rel=0.01)


def test_mode_is_symmetric_about_one_half(build_module):
    t = draws(build_module(sampling_spec("{kind: mode, s: 1.29}")))
    assert stats.ks_2samp(t.numpy(), (1 - t).numpy()).pvalue > 1e-3
    assert abs(float(t.mean()) - 0.5) < 0.005


def test_safe_ranges_apply(build_module):
    m = build_module(sampling_spec("{kind: logit_normal}", train=SAFE_RANGES))
    t = draws(m)
    assert float(t.min()) >= 0.001 and float(t.max()) <= 0.999
