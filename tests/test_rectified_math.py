"""The toy script's path and sampler against math (METHODS.md §10 items for the rectified path)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from analytic import GaussianVelocity, exact_endpoint, loglog_slope

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def m(build_module):
    return build_module(REPO / "specs" / "toy_moons.yaml")


@pytest.fixture(scope="module")
def full(build_module):
    """The same script with the helpers its main() does not reach (log_snr, time_from_log_snr)."""
    return build_module(REPO / "specs" / "toy_moons.yaml", prune=False)


def test_boundaries_and_velocity_is_the_time_derivative(m):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=g, dtype=torch.float64)
    eps = torch.randn(64, 2, generator=g, dtype=torch.float64)
    zeros, ones = torch.zeros(64, dtype=torch.float64), torch.ones(64, dtype=torch.float64)
    assert torch.equal(m.interpolate(x, eps, zeros), x)
    assert torch.equal(m.interpolate(x, eps, ones), eps)
    t = 0.01 + 0.98 * torch.rand(64, generator=g, dtype=torch.float64)
    _, jvp = torch.func.jvp(lambda tt: m.interpolate(x, eps, tt), (t,), (torch.ones_like(t),))
    torch.testing.assert_close(m.target_velocity(x, eps, t), jvp, rtol=0, atol=1e-12)
    torch.testing.assert_close(m.target_velocity(x, eps, t), eps - x, rtol=0, atol=1e-12)


def test_derivatives_and_log_snr(full):
    m = full
    t = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
    h = 1e-6
    for f, df in ((m.alpha, m.d_alpha), (m.sigma, m.d_sigma)):
        torch.testing.assert_close(df(t), (f(t + h) - f(t - h)) / (2 * h), rtol=0, atol=1e-8)
    lam = m.log_snr(t)
    torch.testing.assert_close(
        lam, torch.log(m.alpha(t) ** 2 / m.sigma(t) ** 2), rtol=0, atol=1e-12
    )
    torch.testing.assert_close(m.time_from_log_snr(lam), t, rtol=0, atol=1e-12)
    # lambda-dot = -2 kappa / (alpha sigma), kappa = d_sigma alpha - d_alpha sigma = 1 here
    lam_dot = (m.log_snr(t + h) - m.log_snr(t - h)) / (2 * h)
    kappa = m.d_sigma(t) * m.alpha(t) - m.d_alpha(t) * m.sigma(t)
    torch.testing.assert_close(lam_dot, -2 * kappa / (m.alpha(t) * m.sigma(t)), rtol=1e-6, atol=0)


def test_euler_converges_at_order_one_on_gaussian_data(m):
    """x ~ N(1.5, 0.3^2): Euler with the exact velocity; error vs N has log-log slope ~ 1."""
    mu, s = 1.5, 0.3
    model = GaussianVelocity(m, mu, s)
    eps = torch.randn(4096, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    exact = exact_endpoint(m, eps, 1.0, mu, s)
    steps = [4, 8, 16, 32, 64]
    errors = []
    for n in steps:
        z, nfe = m.sample(model, eps, steps=n)
        assert nfe == n
        errors.append((z - exact).abs().max().item())
    slope = loglog_slope(steps, errors)
    assert -1.15 < slope < -0.85, (slope, errors)
    z, _ = m.sample(model, eps, steps=400)
    assert abs(z.mean().item() - mu) < 0.02 and abs(z.std().item() - s) < 0.01


def test_loss_is_zero_mean_error_at_the_exact_velocity_only_for_a_point_mass(m):
    """For x = mu (s = 0) the conditional and marginal velocities coincide: loss exactly 0."""
    mu = 0.7
    model = GaussianVelocity(m, mu, 0.0)
    x = torch.full((32, 2), mu, dtype=torch.float64)
    eps = torch.randn(32, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    t = (
        torch.rand(32, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 0.98
        + 0.01
    )
    loss, terms = m.loss_fn(model, x, eps, t)
    assert loss.item() < 1e-20 and terms == {}
