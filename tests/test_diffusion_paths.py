"""Every path against its closed forms (METHODS.md §2, §10 items 1-2): boundaries, derivatives,
kappa, the log-SNR and its inverse, and the velocity as the time derivative of the path."""

from __future__ import annotations

import math

import pytest
import torch
from diffusion_specs import PATHS, SAFE_RANGES, spec

T = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)


def closed_forms(name: str) -> tuple:
    """(alpha, sigma, t_of_lambda) from METHODS.md §2's tables, independently of the script."""
    if name == "rectified":
        return 1 - T, T, lambda lam: 1 / (1 + torch.exp(lam / 2))
    if name == "rectified_sigma_min":
        s = 0.05
        return (
            1 - T,
            s + (1 - s) * T,
            lambda lam: (1 - s * torch.exp(lam / 2)) / (1 + (1 - s) * torch.exp(lam / 2)),
        )
    if name == "vp_cosine":
        return (
            torch.cos(math.pi * T / 2),
            torch.sin(math.pi * T / 2),
            lambda lam: (2 / math.pi) * torch.atan(torch.exp(-lam / 2)),
        )
    if name == "vp_linear":
        b0, b1 = 0.1, 20.0
        big_b = b0 * T + 0.5 * (b1 - b0) * T**2
        return (
            torch.exp(-big_b / 2),
            torch.sqrt(1 - torch.exp(-big_b)),
            lambda lam: (
                (-b0 + torch.sqrt(b0**2 + 2 * (b1 - b0) * torch.log1p(torch.exp(-lam)))) / (b1 - b0)
            ),
        )
    if name == "edm":
        lo, hi = 0.002, 80.0
        return (
            torch.ones_like(T),
            lo * (hi / lo) ** T,
            lambda lam: (torch.log(torch.exp(-lam / 2)) - math.log(lo)) / math.log(hi / lo),
        )
    if name == "polynomial":
        n = 2.5
        return (1 - T) ** n, 1 - (1 - T) ** n, lambda lam: 1 - torch.sigmoid(lam / 2) ** (1 / n)
    raise KeyError(name)


@pytest.fixture(scope="module", params=sorted(PATHS))
def path(request, build_module):
    """prune=False keeps log_snr, time_from_log_snr and kappa, which the Euler sampler and plain
    flow matching of these specs do not reach."""
    extra = "train: {t_min: 0.001}\n" if request.param == "vp_linear" else ""
    return request.param, build_module(spec(PATHS[request.param], extra), prune=False)


def test_alpha_sigma_and_inverse_log_snr_match_the_closed_forms(path):
    name, m = path
    alpha, sigma, t_of_lambda = closed_forms(name)
    torch.testing.assert_close(m.alpha(T), alpha, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(m.sigma(T), sigma, rtol=1e-12, atol=1e-14)
    lam = m.log_snr(T)
    torch.testing.assert_close(lam, torch.log(alpha**2 / sigma**2), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(m.time_from_log_snr(lam), T, rtol=0, atol=1e-10)
    torch.testing.assert_close(t_of_lambda(lam), T, rtol=0, atol=1e-9)  # the table's t(lambda)


def test_derivatives_kappa_and_log_snr_rate(path):
    _, m = path
    h = 1e-6
    for f, df in ((m.alpha, m.d_alpha), (m.sigma, m.d_sigma)):
        numeric = (f(T + h) - f(T - h)) / (2 * h)
        torch.testing.assert_close(df(T), numeric, rtol=1e-6, atol=1e-7)
    a, s = m.alpha(T), m.sigma(T)
    kappa = m.d_sigma(T) * a - m.d_alpha(T) * s
    torch.testing.assert_close(m.kappa(T), kappa, rtol=1e-12, atol=1e-12)
    assert bool((kappa > 0).all())
    lam_dot = (m.log_snr(T + h) - m.log_snr(T - h)) / (2 * h)
    torch.testing.assert_close(lam_dot, -2 * kappa / (a * s), rtol=1e-5, atol=0)


def test_target_velocity_is_the_time_derivative_of_the_path(path):
    _, m = path
    g = torch.Generator().manual_seed(0)
    x = torch.randn(99, 3, generator=g, dtype=torch.float64)
    eps = torch.randn(99, 3, generator=g, dtype=torch.float64)
    _, jvp = torch.func.jvp(lambda tt: m.interpolate(x, eps, tt), (T,), (torch.ones_like(T),))
    torch.testing.assert_close(m.target_velocity(x, eps, T), jvp, rtol=1e-12, atol=1e-12)


def test_boundaries(path):
    """z_0 = x where sigma_0 = 0 and z_1 = eps where alpha_1 = 0 (METHODS.md §10 item 1)."""
    name, m = path
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, 2, generator=g, dtype=torch.float64)
    eps = torch.randn(16, 2, generator=g, dtype=torch.float64)
    zeros, ones = torch.zeros(16, dtype=torch.float64), torch.ones(16, dtype=torch.float64)
    at0, at1 = m.interpolate(x, eps, zeros), m.interpolate(x, eps, ones)
    if name in ("rectified", "vp_cosine", "vp_linear", "polynomial"):
        torch.testing.assert_close(at0, x, rtol=0, atol=1e-15)
        assert m.log_snr(zeros).isposinf().all()
    else:  # edm and sigma_min keep noise sigma_0 > 0 at t = 0
        torch.testing.assert_close(at0, x + float(m.sigma(zeros[:1])) * eps, rtol=0, atol=1e-15)
    if name in ("rectified", "rectified_sigma_min", "vp_cosine", "polynomial"):
        torch.testing.assert_close(at1, eps, rtol=0, atol=1e-15)
        assert m.log_snr(ones).isneginf().all()
    if name == "vp_linear":  # alpha_1 = exp(-5.025) ~ 6.6e-3: not pure noise
        assert float(m.alpha(ones[:1])) == pytest.approx(math.exp(-5.025), rel=1e-12)


def test_cosine_velocity_is_a_multiple_of_v(build_module):
    m = build_module(spec(PATHS["vp_cosine"]))
    g = torch.Generator().manual_seed(2)
    x = torch.randn(99, 2, generator=g, dtype=torch.float64)
    eps = torch.randn(99, 2, generator=g, dtype=torch.float64)
    tt = T[:, None]
    v = m.alpha(tt) * eps - m.sigma(tt) * x
    torch.testing.assert_close(m.target_velocity(x, eps, T), (math.pi / 2) * v, rtol=0, atol=1e-12)


def test_polynomial_of_degree_one_is_rectified(build_module):
    poly = build_module(spec("path: {kind: polynomial, n: 1}\n"), prune=False)
    rf = build_module(spec(PATHS["rectified"]), prune=False)
    for name in ("alpha", "sigma", "d_alpha", "d_sigma", "kappa", "log_snr"):
        torch.testing.assert_close(getattr(poly, name)(T), getattr(rf, name)(T), rtol=0, atol=1e-14)


def test_sigma_min_velocity(build_module):
    m = build_module(spec(PATHS["rectified_sigma_min"], SAFE_RANGES), prune=False)
    x, eps = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    torch.testing.assert_close(m.target_velocity(x, eps, T[:5]), (1 - 0.05) * eps - x)
    lam_max = -2 * math.log(0.05)
    assert float(m.log_snr(torch.zeros(1, dtype=torch.float64))) == pytest.approx(lam_max)
