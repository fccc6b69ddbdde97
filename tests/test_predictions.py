"""Network outputs and their conversions (METHODS.md §3, §10 items 2-3): every prediction on every
path it is valid on gives the exact Gaussian posterior's views, the views round-trip, and the loss
equals W_v(t) times the squared velocity error whatever the output is."""

from __future__ import annotations

import math

import pytest
import torch
from analytic import GaussianModel, edm_radius, gaussian_posterior
from diffusion_specs import PATHS, SAFE_RANGES, spec
from torch import nn

PREDICTIONS = ("velocity", "epsilon", "x0", "v", "score", "edm")
VP = ("vp_cosine", "vp_linear")
COMBOS = [(p, q) for p in sorted(PATHS) for q in PREDICTIONS if q != "v" or p in VP]
T = torch.linspace(0.01, 0.99, 50, dtype=torch.float64)


def build(build_module, path: str, prediction: str, weighting: str = "uniform"):
    """The script with every helper of its units kept (prune=False): the conversions under test
    (to_denoised, to_velocity, velocity_error_gain, log_snr, ...) are pruned where its loss and
    Euler sampler do not reach them, and GaussianModel's edm input needs time_from_log_snr."""
    return build_module(
        spec(
            PATHS[path],
            SAFE_RANGES,
            f"loss: {{kind: cfm, prediction: {{kind: {prediction}}}}}\n",
            f"weighting: {{kind: {weighting}}}\n",
        ),
        prune=False,
    )


def raw_output(m, model: nn.Module, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The network's raw output at (z, t): edm's preconditioned F, else model(z, t) itself."""
    if m.CONFIG.loss.prediction.kind == "edm":
        return m.network_output(model, z, t)
    return model(z, t)


def output_target(m, x: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """What the raw output regresses onto (the velocity network's is the velocity itself)."""
    if m.CONFIG.loss.prediction.kind == "velocity":
        return m.target_velocity(x, eps, t)
    return m.output_target(x, eps, t)


class Wiggly(nn.Module):
    """A fixed nonlinear stand-in for a network, in float64."""

    def forward(self, z: torch.Tensor, t: torch.Tensor, y=None) -> torch.Tensor:
        return torch.sin(1.3 * z + t[:, None]) + 0.5 * z.roll(1, dims=1) * torch.cos(3 * t[:, None])


def batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = 1.5 + 0.3 * torch.randn(50, 2, generator=g, dtype=torch.float64)
    eps = torch.randn(50, 2, generator=g, dtype=torch.float64)
    return x, eps


@pytest.mark.parametrize("path,prediction", COMBOS)
def test_views_of_the_exact_network_are_the_gaussian_posterior(build_module, path, prediction):
    """The exact network in any output space converts to the same (u*, x*, eps*): every
    conversion of METHODS.md §3 checked against the posterior written from definitions."""
    m = build(build_module, path, prediction)
    model = GaussianModel(m, 1.5, 0.3)
    x, eps = batch()
    z = m.interpolate(x, eps, T)
    out = raw_output(m, model, z, T)
    x_hat, e_hat = m.to_denoised(out, z, T)
    x_star, e_star = gaussian_posterior(m, z, T, 1.5, 0.3)
    tt = T[:, None]
    u_star = m.d_alpha(tt) * x_star + m.d_sigma(tt) * e_star
    tol = {"rtol": 1e-9, "atol": 1e-9}
    torch.testing.assert_close(x_hat, x_star, **tol)
    torch.testing.assert_close(e_hat, e_star, **tol)
    torch.testing.assert_close(m.model_velocity(model, z, T), u_star, **tol)
    if prediction != "velocity":  # the velocity network's output is its velocity view
        torch.testing.assert_close(m.to_velocity(out, z, T), u_star, **tol)
    # the samplers' views at one grid time, for the whole batch
    for time in (0.25, 0.6):
        t = torch.full_like(T, time)
        x_t, e_t = gaussian_posterior(m, z, t, 1.5, 0.3)
        u_t = float(m.d_alpha(t[:1])) * x_t + float(m.d_sigma(t[:1])) * e_t
        torch.testing.assert_close(m.velocity_field(model)(z, time), u_t, **tol)
        x_field, e_field = m.denoiser(model)(z, time)
        torch.testing.assert_close(x_field, x_t, **tol)
        torch.testing.assert_close(e_field, e_t, **tol)


@pytest.mark.parametrize("path,prediction", COMBOS)
def test_views_round_trip_and_the_loss_is_the_weighted_velocity_error(
    build_module, path, prediction
):
    """For an arbitrary network: z = alpha*x_hat + sigma*eps_hat and u_hat = d_alpha*x_hat +
    d_sigma*eps_hat (the views are one consistent triple), u_hat - u = g_t*(output - target), and
    loss_fn = mean W_v(t)*mean_d (u_hat - u)^2."""
    m = build(build_module, path, prediction, "eps_mse")
    x, eps = batch(1)
    z = m.interpolate(x, eps, T)
    out = raw_output(m, Wiggly(), z, T)
    x_hat, e_hat = m.to_denoised(out, z, T)
    u_hat = m.model_velocity(Wiggly(), z, T)
    tt = T[:, None]
    tol = {"rtol": 1e-9, "atol": 1e-9}
    torch.testing.assert_close(m.alpha(tt) * x_hat + m.sigma(tt) * e_hat, z, **tol)
    torch.testing.assert_close(m.d_alpha(tt) * x_hat + m.d_sigma(tt) * e_hat, u_hat, **tol)
    u = m.target_velocity(x, eps, T)
    # g_t = 1 for the velocity network, whose output and target are u_hat and u themselves
    gain = 1.0 if prediction == "velocity" else m.velocity_error_gain(T)[:, None]
    torch.testing.assert_close(u_hat - u, gain * (out - output_target(m, x, eps, T)), **tol)
    loss, _ = m.loss_fn(Wiggly(), x, eps, T)
    expected = (m.weight(T) * (u_hat - u).square().mean(dim=1)).mean()
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_output_mse_is_a_plain_mse_on_the_output(build_module, prediction):
    path = "vp_cosine" if prediction == "v" else "rectified"
    m = build(build_module, path, prediction, "output_mse")
    x, eps = batch(2)
    z = m.interpolate(x, eps, T)
    err = raw_output(m, Wiggly(), z, T) - output_target(m, x, eps, T)
    loss, _ = m.loss_fn(Wiggly(), x, eps, T)
    assert float(loss) == pytest.approx(float(err.square().mean()), rel=1e-6)
    if prediction == "velocity":
        torch.testing.assert_close(m.weight(T), torch.ones_like(T))
    if prediction == "epsilon":  # W_v = (alpha/kappa)^2 = (1 - t)^2: the eps_mse row of §4.2
        torch.testing.assert_close(m.weight(T), (1 - T) ** 2, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_point_mass_loss_is_zero_at_the_exact_network(build_module, prediction):
    """For x = mu (s = 0) the conditional and marginal targets coincide: the loss is exactly 0."""
    path = "vp_cosine" if prediction == "v" else "rectified"
    m = build(build_module, path, prediction)
    x = torch.full((50, 2), 0.7, dtype=torch.float64)
    _, eps = batch(3)
    loss, terms = m.loss_fn(GaussianModel(m, 0.7, 0.0), x, eps, T)
    assert float(loss) < 1e-18 and terms == {}


def test_rectified_error_identities(build_module):
    """METHODS.md §10 item 3 on the rectified path."""
    m = build(build_module, "rectified", "velocity")
    x, eps = batch(4)
    z = m.interpolate(x, eps, T)
    u_hat = m.model_velocity(Wiggly(), z, T)
    x_hat, e_hat = m.to_denoised(Wiggly()(z, T), z, T)
    tt = T[:, None]
    u = eps - x
    torch.testing.assert_close(u_hat - u, (e_hat - eps) / (1 - tt))
    torch.testing.assert_close(x_hat - x, -tt * (u_hat - u))
    torch.testing.assert_close(u_hat, e_hat - x_hat)
    lam = m.log_snr(tt)
    torch.testing.assert_close((x_hat - x).square(), torch.exp(-lam) * (e_hat - eps).square())
    torch.testing.assert_close(
        (u_hat - u).square(), (1 + torch.exp(-lam / 2)) ** 2 * (e_hat - eps).square()
    )


def test_v_error_identity_on_vp(build_module):
    m = build(build_module, "vp_cosine", "v")
    x, eps = batch(5)
    z = m.interpolate(x, eps, T)
    out = Wiggly()(z, T)
    _, e_hat = m.to_denoised(out, z, T)
    a = m.alpha(T[:, None])
    v = m.output_target(x, eps, T)
    torch.testing.assert_close((out - v).square(), (e_hat - eps).square() / a**2)


def test_edm_preconditioning_on_the_rectified_path(build_module):
    """c_in*x_VE = z/sqrt(t^2 + sd^2 (1-t)^2), c_noise = ln(sigma_VE)/4 = logit(t)/4, and EDM's
    loss weight (sigma^2 + sd^2)/(sigma*sd)^2 on |x_hat - x|^2 is (t^2 + sd^2 (1-t)^2)/sd^2 on
    |u_hat - u|^2, i.e. 1/g_t^2."""
    m = build(build_module, "rectified", "edm")
    sd = 0.5
    seen = {}

    class Recorder(Wiggly):
        def forward(self, z, t, y=None):
            seen["z"], seen["t"] = z, t
            return super().forward(z, t, y)

    x, eps = batch(6)
    z = m.interpolate(x, eps, T)
    x_hat, _ = m.to_denoised(m.network_output(Recorder(), z, T), z, T)
    tt = T[:, None]
    torch.testing.assert_close(seen["z"], z / torch.sqrt(tt**2 + sd**2 * (1 - tt) ** 2))
    torch.testing.assert_close(seen["t"], torch.logit(T) / 4)
    u_hat = m.model_velocity(Recorder(), z, T)
    sigma_ve = T / (1 - T)
    edm_weight = (sigma_ve**2 + sd**2) / (sigma_ve * sd) ** 2
    u = eps - x
    torch.testing.assert_close(
        edm_weight[:, None] * (x_hat - x).square(),
        ((tt**2 + sd**2 * (1 - tt) ** 2) / sd**2) * (u_hat - u).square(),
    )
    torch.testing.assert_close(
        m.velocity_error_gain(T) ** -2, (T**2 + sd**2 * (1 - T) ** 2) / sd**2, rtol=1e-12, atol=0
    )
    torch.testing.assert_close(edm_radius(m, T, sd), torch.sqrt(T**2 + sd**2 * (1 - T) ** 2))


def test_views_are_float32_under_reduced_precision(build_module):
    m = build(build_module, "vp_cosine", "epsilon")

    class Half(nn.Module):
        def forward(self, z, t, y=None):
            return z.to(torch.bfloat16)

    z = torch.randn(4, 2)
    u_hat = m.model_velocity(Half(), z, torch.full((4,), 0.5))
    x_hat, e_hat = m.denoiser(Half())(z, 0.5)
    u_field = m.velocity_field(Half())(z, 0.5)
    assert u_hat.dtype == x_hat.dtype == e_hat.dtype == u_field.dtype == torch.float32


def test_score_view_is_the_gaussian_score(build_module):
    """-eps_hat/sigma_t of the exact network is grad log N(z; alpha*mu, alpha^2 s^2 + sigma^2)."""
    m = build(build_module, "vp_linear", "score")
    x, eps = batch(7)
    z = m.interpolate(x, eps, T)
    _, e_hat = m.to_denoised(GaussianModel(m, 1.5, 0.3)(z, T), z, T)
    tt = T[:, None]
    a, s = m.alpha(tt), m.sigma(tt)
    score = -(z - a * 1.5) / (a**2 * 0.09 + s**2)
    torch.testing.assert_close(-e_hat / s, score, rtol=1e-9, atol=1e-9)
    assert math.isfinite(float(m.velocity_error_gain(T).abs().max()))
