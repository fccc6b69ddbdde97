"""The exposure-bias metric delta_t of METHODS 7.1 (eval.exposure_bias) against closed forms.

For Gaussian data x ~ N(mu, s^2 I) the exact velocity is affine in z, so every Euler state is
z = A*(x - mu) + B*eps + const with coefficients that follow the recursion
A, B <- (1 + h*c_t)*A, (1 + h*c_t)*B, c_t = (d_alpha*alpha*s^2 + d_sigma*sigma)/v_t,
v_t = alpha^2 s^2 + sigma^2. With x and eps built so that their sample moments are exact (centred,
orthogonal, unit variance), sigma_hat_t = sqrt((A - alpha_t)^2 s^2 + B^2) holds to float precision
and delta_t = (sigma_hat_t - sigma_t)^2.
"""

from __future__ import annotations

import math

import pytest
import torch
from analytic import GaussianModel
from diffusion_specs import spec

MU, S = 1.5, 0.3


EB_SPEC = (
    "version: 1\n"
    "data: {kind: toy2d, distribution: moons}\n"
    "model: {kind: mlp, hidden: 16, depth: 1, time_dim: 8}\n"
    "sampler: {kind: heun, space: t, steps: 4}\n"
    "eval: {kind: w2, plot: false, exposure_bias: {mode: both, n_samples: 300}}\n"
)


def exact_moment_pairs(n: int, dim: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """x = mu + s*X and eps = E with the columns of [X E] centred, orthogonal and of sample
    variance exactly 1 (float64)."""
    g = torch.Generator().manual_seed(seed)
    raw = torch.randn(n, 2 * dim, generator=g, dtype=torch.float64)
    raw = raw - raw.mean(dim=0)
    q, _ = torch.linalg.qr(raw)
    cols = q * math.sqrt(n - 1)
    return MU + S * cols[:, :dim], cols[:, dim:]


def path_values(m, t: float) -> tuple[float, float, float, float]:
    tt = torch.tensor(t, dtype=torch.float64)
    return tuple(float(f(tt)) for f in (m.alpha, m.sigma, m.d_alpha, m.d_sigma))


def gain(m, t: float) -> float:
    a, sg, da, ds = path_values(m, t)
    return (da * a * S**2 + ds * sg) / (a * a * S**2 + sg * sg)


def delta(m, t: float, A: float, B: float) -> float:
    a, sg, _, _ = path_values(m, t)
    return (math.sqrt((A - a) ** 2 * S**2 + B**2) - sg) ** 2


@pytest.mark.parametrize("path", ["rectified", "vp_cosine"])
def test_euler_chain_and_single_step_match_closed_form(build_module, path):
    t_max = 0.999 if path == "vp_cosine" else 1.0
    m = build_module(
        EB_SPEC.replace("{kind: heun, space: t, steps: 4}", f"{{kind: euler, t_max: {t_max}}}")
        + f"path: {{kind: {path}}}\n"
    )
    model = GaussianModel(m, MU, S)
    x, eps = exact_moment_pairs(512)
    steps = 6
    grid = m.time_grid(steps)
    times, chain = m.exposure_bias_curve(model, x, eps, "chain", steps=steps, batch_size=100)
    assert times == grid[1:]
    a0, s0, _, _ = path_values(m, grid[0])
    A, B = a0, s0
    expected_chain, expected_single = [], []
    for t, s in zip(grid[:-1], grid[1:], strict=True):
        f = 1.0 + (s - t) * gain(m, t)
        A, B = f * A, f * B
        expected_chain.append(delta(m, s, A, B))
        a, sg, _, _ = path_values(m, t)
        expected_single.append(delta(m, s, f * a, f * sg))
    assert chain == pytest.approx(expected_chain, rel=1e-9, abs=1e-12)
    _, single = m.exposure_bias_curve(model, x, eps, "single_step", steps=steps)
    assert single == pytest.approx(expected_single, rel=1e-9, abs=1e-12)
    # Not trivially zero: Euler with 6 steps leaves a visible excess variance.
    assert max(chain) > 1e-4


def test_diagnostic_reports_curves_and_scalars(build_module):
    m = build_module(EB_SPEC)
    rt = m.Runtime(rank=0, world_size=1, device=torch.device("cpu"), seed=0)
    torch.manual_seed(0)
    metrics = m.exposure_bias_diagnostics(m.build_model(), rt)
    for mode in ("chain", "single_step"):
        curve = metrics[f"exposure_bias_{mode}_curve"]
        assert curve["t"] == m.time_grid(4)[1:]
        assert len(curve["delta"]) == 4 and all(d >= 0 for d in curve["delta"])
        assert metrics[f"exposure_bias_{mode}"] == pytest.approx(sum(curve["delta"]) / 4)
        assert metrics[f"exposure_bias_{mode}_final"] == curve["delta"][-1]
    assert not any(k.endswith("_no_es") for k in metrics)  # no Epsilon Scaling in this spec
    # The same noise every evaluation (its own generator, not torch's global RNG): the same
    # weights give the same diagnostic.
    torch.manual_seed(0)
    model = m.build_model()
    torch.manual_seed(1)
    assert m.exposure_bias_diagnostics(model, rt) == metrics


def test_off_by_default_emits_no_code(build_module):
    m = build_module(spec())
    assert not hasattr(m, "exposure_bias_diagnostics")
    assert hasattr(m, "sample_steps")


def test_single_step_delta_of_the_exact_network_vanishes_at_the_discretisation_rate(build_module):
    """single_step compares models: for the exact network on Gaussian data delta -> 0 as the step
    shrinks. One step of length h from alpha_t*x + sigma_t*eps moves z by h*u*(z), whose
    covariance with eps differs from the conditional velocity's by -alpha*s^2*kappa/v_t, so
    sigma_hat_s - sigma_s = O(h), delta = O(h^2) and its mean over the grid falls as N^-2. Chain
    mode instead keeps delta_0 > 0 for any N: a chain from t = 1, where alpha = 0, has no link to
    its x."""
    from analytic import loglog_slope

    m = build_module(EB_SPEC.replace("{kind: heun, space: t, steps: 4}", "{kind: euler}"))
    model = GaussianModel(m, MU, S)
    x, eps = exact_moment_pairs(512)
    ns, single, chain_end = [8, 16, 32, 64], [], []
    for n in ns:
        _, d = m.exposure_bias_curve(model, x, eps, "single_step", steps=n)
        single.append(sum(d) / len(d))
        chain_end.append(m.exposure_bias_curve(model, x, eps, "chain", steps=n)[1][-1])
    assert loglog_slope(ns, single) == pytest.approx(-2.0, abs=0.15)
    assert min(chain_end) > 10 * single[0]
