"""Samplers against math on Gaussian data with the exact network (no training): convergence at
their theoretical orders, exact identities between samplers (METHODS.md §5, §10 items 8-12),
stochastic samplers' mean and covariance, and NFE as actually counted."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from analytic import GaussianModel, exact_endpoint, loglog_slope
from diffusion_specs import PATHS, spec
from test_predictions import Wiggly
from torch import nn

MU, S = 1.5, 0.3
# The samplers that inject noise: only their sample/sample_steps take a generator.
STOCHASTIC_KINDS = ("ddim_eta", "ddpm", "edm_stochastic", "euler_maruyama")


def sampler_spec(sampler: str, path: str = "rectified", extra: str = "") -> str:
    text = spec(PATHS[path], extra, f"sampler: {sampler}\n")
    if "dopri5" in sampler:  # no step grid, so the grid-based flow diagnostics must be off
        text = text.replace(
            "eval: {kind: w2,", "eval: {straightness: false, few_step: [], kind: w2,"
        )
    return text


class Counting(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner
        self.calls = 0

    def forward(self, z, t, y=None):
        self.calls += 1
        return self.inner(z, t, y)


def noise(n: int = 4096, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def endpoint_errors(m, steps: list[int], mu: float = MU, s: float = S) -> list[float]:
    model = GaussianModel(m, mu, s)
    eps = noise(1024)
    errors = []
    for n in steps:
        t0 = m.time_grid(n)[0]
        z0 = float(m.sigma(torch.tensor(t0, dtype=torch.float64))) * eps
        exact = exact_endpoint(m, z0, t0, mu, s)
        z, _ = m.sample(model, eps, steps=n)
        errors.append((z - exact).abs().max().item())
    return errors


# (sampler, path, extra sections, order, (mu, s), steps). Midpoint is third order for Gaussian
# data on the rectified path (its h^2 error term vanishes there), so its order-2 check runs on
# vp_cosine; RK4 and EDM's rho = 7 grid reach their asymptotic rate only from about 16 steps.
ORDERS = [
    ("{kind: heun, space: t}", "rectified", "", 2, (MU, S), [4, 8, 16, 32]),
    ("{kind: midpoint}", "vp_cosine", "", 2, (1.0, 1.0), [4, 8, 16, 32]),
    ("{kind: rk4}", "rectified", "", 4, (MU, S), [16, 32, 64, 128]),
    (
        "{kind: heun, space: sigma, grid: {kind: edm}}",
        "rectified",
        "",
        2,
        (MU, S),
        [16, 32, 64, 128],
    ),
    # DPM-Solver++(2M) steps in log-SNR: on a uniform t grid the last log-SNR steps do not shrink
    # with N (lambda = 2 log((1 - t)/t) moves by 2 log 2 from t = 2/N to 1/N), so its order-2
    # check runs on the log-SNR grid; bench/sampler_order.py shows the uniform-grid behaviour.
    (
        "{kind: dpmpp_2m, t_max: 0.99, grid: {kind: logsnr_uniform}}",
        "rectified",
        "",
        2,
        (MU, S),
        [32, 64, 128, 256],
    ),
    # a diffusion-style setup: vp_cosine, an eps network, sigma-space Heun on EDM's grid
    (
        "{kind: heun, space: sigma, grid: {kind: edm}}",
        "vp_cosine",
        "loss: {kind: cfm, prediction: {kind: epsilon}}\ntrain: {t_max: 0.999}\n",
        2,
        (MU, S),
        [16, 32, 64, 128],
    ),
]


@pytest.mark.parametrize(
    "sampler,path,extra,order,data,steps", ORDERS, ids=[f"{o[1]}-{o[0]}" for o in ORDERS]
)
def test_deterministic_samplers_converge_at_their_order(
    build_module, sampler, path, extra, order, data, steps
):
    m = build_module(sampler_spec(sampler, path, extra))
    errors = endpoint_errors(m, steps, *data)
    slope = loglog_slope(steps, errors)
    assert -order - 0.35 < slope < -order + 0.35, (slope, errors)


def test_nfe_is_what_each_sampler_actually_evaluates(build_module):
    expected = {
        "{kind: euler}": lambda n: n,
        "{kind: heun, space: t}": lambda n: 2 * n - 1,
        "{kind: heun, space: sigma, grid: {kind: edm}}": lambda n: 2 * n - 1,
        "{kind: midpoint}": lambda n: 2 * n,
        "{kind: rk4}": lambda n: 4 * n,
        "{kind: ddim_eta, eta: 1.0}": lambda n: n,
        "{kind: ddpm}": lambda n: n,
        "{kind: edm_stochastic, S_churn: 10, grid: {kind: edm}}": lambda n: 2 * n - 1,
        "{kind: euler_maruyama, diffusion: linear}": lambda n: n,
        "{kind: dpmpp_2m}": lambda n: n,
        "{kind: dopri5}": None,
    }
    for sampler, nfe_of in expected.items():
        m = build_module(sampler_spec(sampler))
        model = Counting(GaussianModel(m, MU, S))
        kind = sampler.split(",")[0].removeprefix("{kind: ").rstrip("}")
        noise_kw = (
            {"generator": torch.Generator().manual_seed(0)} if kind in STOCHASTIC_KINDS else {}
        )
        _, nfe = m.sample(model, noise(64), steps=7, **noise_kw)
        assert nfe == model.calls, sampler
        if nfe_of is not None:
            assert nfe == nfe_of(7), sampler


def test_dopri5_meets_its_tolerance_and_reports_more_nfe_when_tighter(build_module):
    results = []
    for tol in ("1.0e-3", "1.0e-6"):
        m = build_module(sampler_spec(f"{{kind: dopri5, atol: {tol}, rtol: {tol}}}"))
        eps = noise()
        z, nfe = m.sample(GaussianModel(m, MU, S), eps)
        results.append(((z - exact_endpoint(m, eps, 1.0, MU, S)).abs().max().item(), nfe))
    (err_loose, nfe_loose), (err_tight, nfe_tight) = results
    assert err_loose < 1e-2 and err_tight < 1e-5 and nfe_tight > nfe_loose > 6


def test_dopri5_with_t_min_ends_by_an_euler_step(build_module):
    m = build_module(sampler_spec("{kind: dopri5, t_min: 0.001, atol: 1.0e-8, rtol: 1.0e-8}"))
    eps = noise()
    z, _ = m.sample(GaussianModel(m, MU, S), eps)
    assert (z - exact_endpoint(m, eps, 1.0, MU, S)).abs().max().item() < 1e-5
    assert m.time_grid(None) == [1.0, 0.001, 0.0]


def test_euler_equals_ddim_on_the_rectified_path(build_module):
    """METHODS.md §10 item 8: (1-s)(z - t u) + s(z + (1-t) u) = z + (s - t) u."""
    euler = build_module(sampler_spec("{kind: euler}"))
    ddim = build_module(sampler_spec("{kind: ddim_eta, eta: 0.0}"))
    eps = noise()
    a, _ = euler.sample(Wiggly(), eps, steps=13)
    b, _ = ddim.sample(Wiggly(), eps, steps=13)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_ddim_on_any_path_is_rectified_euler_on_the_mapped_grid(build_module, monkeypatch):
    """DDIM depends only on lambda at the grid points: DDIM on vp_cosine equals rectified Euler on
    tau_i = sigma_i/(alpha_i + sigma_i) (the exact network of each path, same data)."""
    cos = build_module(sampler_spec("{kind: ddim_eta, eta: 0.0, t_max: 0.98}", "vp_cosine"))
    rf = build_module(sampler_spec("{kind: euler}"))
    grid = torch.tensor(cos.time_grid(9), dtype=torch.float64)
    tau = (cos.sigma(grid) / (cos.alpha(grid) + cos.sigma(grid))).tolist()
    monkeypatch.setattr(rf, "time_grid", lambda steps: tau)
    eps = noise()
    a, _ = cos.sample(GaussianModel(cos, MU, S), eps, steps=9)
    b, _ = rf.sample(GaussianModel(rf, MU, S), eps, steps=9)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_heun_space_matters_for_a_nonlinear_network_and_edm_without_churn_is_heun(build_module):
    in_t = build_module(sampler_spec("{kind: heun, space: t, grid: {kind: edm}}"))
    in_sigma = build_module(sampler_spec("{kind: heun, space: sigma, grid: {kind: edm}}"))
    edm = build_module(sampler_spec("{kind: edm_stochastic, S_churn: 0, grid: {kind: edm}}"))
    eps = noise(256)
    a, nfe_a = in_t.sample(Wiggly(), eps, steps=6)
    b, nfe_b = in_sigma.sample(Wiggly(), eps, steps=6)
    c, _ = edm.sample(Wiggly(), eps, steps=6)
    assert nfe_a == nfe_b == 11
    assert (a - b).abs().max().item() > 1e-3
    torch.testing.assert_close(b, c, rtol=0, atol=1e-12)


def test_edm_grid_is_karras_rho_schedule(build_module):
    m = build_module(sampler_spec("{kind: heun, space: sigma, grid: {kind: edm}}"))
    grid = m.time_grid(18)
    sig = [t / (1 - t) for t in grid[:-1]]  # rectified: Sigma = t/(1 - t)
    ref = [(80 ** (1 / 7) + i / 17 * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7 for i in range(18)]
    assert grid[-1] == 0.0 and grid[0] == pytest.approx(80 / 81, abs=1e-12)
    assert sig == pytest.approx(ref, rel=1e-9)


def test_other_grids(build_module):
    m = build_module(
        sampler_spec("{kind: euler, t_max: 0.9, grid: {kind: logsnr_uniform, t_min: 0.01}}")
    )
    grid = m.time_grid(5)
    lam = [m.log_snr_at(t) for t in grid[:-1]]
    assert grid[0] == 0.9 and grid[-2] == 0.01 and grid[-1] == 0.0
    assert [b - a for a, b in zip(lam, lam[1:], strict=False)] == pytest.approx(
        [(lam[-1] - lam[0]) / 4] * 4
    )
    m = build_module(sampler_spec("{kind: euler, grid: {kind: shifted, shift: 3.0}}"))
    tau = [1 - i / 4 for i in range(5)]
    assert m.time_grid(4) == pytest.approx([3 * x / (1 + 2 * x) for x in tau])


# ---- single steps of the stochastic samplers (METHODS.md §5.4, §10 items 9-10)


def log_snr(m, t: float) -> float:
    """lambda_t = log(alpha_t^2/sigma_t^2) from the path's alpha and sigma (float64)."""
    a, sg, _, _ = m.path_at(t)
    return 2.0 * math.log(a / sg)


def one_step(m, t: float, s: float, seed: int = 0):
    """A state z at t, the views of Wiggly (a velocity network) there, written from METHODS.md §3
    (x_hat = (d_sigma*z - sigma*u)/kappa, eps_hat = (alpha*u - d_alpha*z)/kappa), and the noise xi
    that a generator seeded with seed + 100 gives a stochastic step."""
    z = noise(512, seed)
    u = Wiggly()(z, torch.full((512,), t, dtype=torch.float64))
    a, sg, da, ds = m.path_at(t)
    k = ds * a - da * sg
    views = SimpleNamespace(velocity=u, x0=(ds * z - sg * u) / k, eps=(a * u - da * z) / k)
    xi = noise(512, seed + 100)
    return z, views, xi


def step_of(m, z: torch.Tensor, t: float, s: float, seed: int | None = None) -> torch.Tensor:
    """The script's own step of Wiggly from (z, t) to s: the first step of the grid [t, s, 0] (not
    the last, which adds no noise); a stochastic sampler's noise from a generator seeded with
    seed + 100, whose first draw is one_step's xi."""
    saved = m.time_grid
    m.time_grid = lambda _steps: [t, s, 0.0]
    try:
        kw = {} if seed is None else {"generator": torch.Generator().manual_seed(seed + 100)}
        _, z_s, _ = next(m.sample_steps(Wiggly(), z, 2, **kw))
    finally:
        m.time_grid = saved
    return z_s


@pytest.mark.parametrize("path", ["rectified", "vp_cosine"])
def test_ddim_eta_one_is_the_ddpm_posterior(build_module, path):
    m = build_module(sampler_spec("{kind: ddim_eta, eta: 1.0}", path))
    t, s = 0.7, 0.45
    z, pred, xi = one_step(m, t, s)
    (a_t, s_t, _, _), (a_s, s_s, _, _) = m.path_at(t), m.path_at(s)
    mean = (a_t * s_s**2 / (a_s * s_t**2)) * z + a_s * (
        s_t**2 - (a_t / a_s) ** 2 * s_s**2
    ) / s_t**2 * pred.x0
    var = s_s**2 * (1 - math.exp(log_snr(m, t) - log_snr(m, s)))
    _, _, xi_other = one_step(m, t, s, seed=1)
    # the noise enters with the posterior's standard deviation, whatever the mean ...
    torch.testing.assert_close(
        step_of(m, z, t, s, 0) - step_of(m, z, t, s, 1), math.sqrt(var) * (xi - xi_other)
    )
    # ... and around the posterior's mean
    torch.testing.assert_close(step_of(m, z, t, s, 0), mean + math.sqrt(var) * xi)


@pytest.mark.parametrize("path", ["rectified", "vp_cosine"])
def test_ddpm_step_is_ddim_to_the_doubled_log_snr_then_renoise(build_module, path):
    m = build_module(sampler_spec("{kind: ddpm}", path))
    ddim = build_module(sampler_spec("{kind: ddim_eta, eta: 1.0}", path))
    t, s = 0.7, 0.45
    z, pred, xi = one_step(m, t, s)
    step = step_of(m, z, t, s, 0)
    torch.testing.assert_close(step, step_of(ddim, z, t, s, 0))
    if path == "rectified":  # METHODS.md §5.4's closed form of r
        r = 1 / (1 + ((1 - s) / s) ** 2 * t / (1 - t))
        z_r = z + (r - t) * pred.velocity
        z_s = (1 - s) / (1 - r) * z_r + math.sqrt(s**2 - ((1 - s) * r / (1 - r)) ** 2) * xi
        torch.testing.assert_close(step, z_s)
    # SDE-DPM-Solver++ first order is the same step (half log-SNR h)
    (_, s_t, _, _), (a_s, s_s, _, _) = m.path_at(t), m.path_at(s)
    h = 0.5 * (log_snr(m, s) - log_snr(m, t))
    sde = (
        (s_s / s_t) * math.exp(-h) * z
        + a_s * (1 - math.exp(-2 * h)) * pred.x0
        + s_s * math.sqrt(1 - math.exp(-2 * h)) * xi
    )
    torch.testing.assert_close(step, sde)


def test_churn_is_ddim_eta_with_the_matching_eta(build_module):
    t, s, churn = 0.7, 0.55, 0.5
    ddpm = build_module(sampler_spec(f"{{kind: ddpm, churn: {churn}}}", "vp_cosine"))
    delta = log_snr(ddpm, s) - log_snr(ddpm, t)
    eta = math.sqrt((1 - math.exp(-churn * delta)) / (1 - math.exp(-delta)))
    ddim = build_module(sampler_spec(f"{{kind: ddim_eta, eta: {eta!r}}}", "vp_cosine"))
    z, _, _ = one_step(ddpm, t, s)
    torch.testing.assert_close(step_of(ddpm, z, t, s, 0), step_of(ddim, z, t, s, 0))


@pytest.mark.parametrize("path", ["rectified", "vp_cosine"])
def test_dpm_solver_first_order_is_ddim(build_module, path):
    """Two steps with lower_order_final: both first order, so DPM-Solver++(2M) equals DDIM; on
    the rectified path a first-order step is z_s = (s/t) z_t + (1 - s/t) x_hat."""
    dpm = build_module(sampler_spec("{kind: dpmpp_2m}", path))
    ddim = build_module(sampler_spec("{kind: ddim_eta, eta: 0.0}", path))
    eps = noise(256)
    torch.testing.assert_close(
        dpm.sample(Wiggly(), eps, steps=2)[0], ddim.sample(Wiggly(), eps, steps=2)[0]
    )
    if path == "rectified":
        t, s = 0.8, 0.3
        z, pred, _ = one_step(ddim, t, s)
        expected = (s / t) * z + (1 - s / t) * pred.x0
        torch.testing.assert_close(step_of(ddim, z, t, s), expected)


def test_ddpm_diffusion_and_the_rectified_sde_drift(build_module):
    """g_t^2 = -sigma^2 dlambda/dt = 2t/(1-t) (rectified), pi*tan(pi t/2) (vp_cosine); with
    eps_t = g_t the rectified drift is z/(1-t) + 2u (METHODS.md §10 item 11)."""
    rf = build_module(sampler_spec("{kind: euler_maruyama, t_max: 0.9}"))
    cos = build_module(sampler_spec("{kind: euler_maruyama, t_max: 0.9}", "vp_cosine"))
    for t in (0.1, 0.5, 0.9):
        assert rf.diffusion_squared(t) == pytest.approx(2 * t / (1 - t), rel=1e-12)
        assert cos.diffusion_squared(t) == pytest.approx(math.pi * math.tan(math.pi * t / 2))
    eps = noise(256)
    z_start = 0.9 * eps
    u = Wiggly()(z_start, torch.full((256,), 0.9, dtype=torch.float64))  # a velocity network
    z, _ = rf.sample(Wiggly(), eps, steps=1)  # one step, the last: no noise
    torch.testing.assert_close(z, z_start - 0.9 * (z_start / (1 - 0.9) + 2 * u))


# ---- stochastic samplers reach the data distribution


# More churn forgets the earlier (point) predictions faster and converges more slowly in N.
STOCHASTIC = [
    ("{kind: ddim_eta, eta: 1.0}", "rectified"),
    ("{kind: ddpm}", "vp_cosine"),
    ("{kind: ddpm, churn: 3.0}", "rectified"),
    (
        "{kind: edm_stochastic, S_churn: 40, S_tmin: 0.05, S_tmax: 50, grid: {kind: edm}}",
        "rectified",
    ),
    ("{kind: euler_maruyama, t_max: 0.999}", "rectified"),
    ("{kind: euler_maruyama, diffusion: linear, scale: 2.0}", "rectified"),
]


@pytest.mark.parametrize("sampler,path", STOCHASTIC, ids=[f"{p}-{s}" for s, p in STOCHASTIC])
def test_stochastic_samplers_reach_the_mean_and_covariance(build_module, sampler, path):
    m = build_module(sampler_spec(sampler, path))
    eps = noise(8192, 3)
    steps = 400 if path == "vp_cosine" else 800
    z, _ = m.sample(
        GaussianModel(m, MU, S), eps, steps=steps, generator=torch.Generator().manual_seed(4)
    )
    cov = torch.cov(z.T)
    assert (z.mean(dim=0) - MU).abs().max().item() < 0.015
    torch.testing.assert_close(
        cov, S**2 * torch.eye(2, dtype=torch.float64), rtol=0, atol=0.05 * S**2
    )
    # and the noise matters: another generator gives other samples
    z2, _ = m.sample(
        GaussianModel(m, MU, S), eps, steps=8, generator=torch.Generator().manual_seed(5)
    )
    z3, _ = m.sample(
        GaussianModel(m, MU, S), eps, steps=8, generator=torch.Generator().manual_seed(6)
    )
    assert (z2 - z3).abs().max().item() > 1e-3
