"""Every weighting against METHODS.md §4.2 (§10 item 4): on the rectified path weight(t) is the
master table's W_v column; on every other path it is the Kingma-Gao w(lambda) of the table's
second column turned into W_v = w(lambda_t)*alpha_t/(sigma_t*kappa_t)."""

from __future__ import annotations

import math

import pytest
import torch
from diffusion_specs import PATHS, SAFE_RANGES, spec

T = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
SD = 0.5


def normal(x, mean, std):
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def logit_normal(t, m, s):
    return normal(torch.logit(t), m, s) / (t * (1 - t))


def sech(x):
    return 1 / torch.cosh(x)


# kind, options, W_v on the rectified path (t), Kingma-Gao w(lambda)
TABLE = [
    ("elbo", "", lambda t: (1 - t) / t, lambda lam: torch.ones_like(lam)),
    ("eps_mse", "", lambda t: (1 - t) ** 2, lambda lam: sech(lam / 4) ** 2 / 4),
    (
        "eps_mse_cosine",
        "",
        lambda t: 2 * (1 - t) ** 2 / (math.pi * ((1 - t) ** 2 + t**2)),
        lambda lam: sech(lam / 2) / math.pi,
    ),
    ("x_mse", "", lambda t: t**2, lambda lam: torch.exp(-lam) * sech(lam / 4) ** 2 / 4),
    (
        "sigmoid",
        ", b: 1.5",
        lambda t: t * (1 - t) / (t**2 + math.exp(-1.5) * (1 - t) ** 2),
        lambda lam: torch.sigmoid(1.5 - lam),
    ),
    (
        "min_snr",
        ", gamma: 5.0",
        lambda t: torch.minimum((1 - t) ** 2, 5 * t**2),
        lambda lam: sech(lam / 4) ** 2 / 4 * torch.clamp(5 * torch.exp(-lam), max=1),
    ),
    (
        "min_snr",
        ", gamma: 5.0, base: eps_cosine",
        lambda t: 2 * torch.minimum((1 - t) ** 2, 5 * t**2) / (math.pi * ((1 - t) ** 2 + t**2)),
        lambda lam: sech(lam / 2) * torch.clamp(5 * torch.exp(-lam), max=1) / math.pi,
    ),
    (
        "edm",
        "",
        lambda t: logit_normal(t, -1.2, 1.2) * (t**2 + SD**2 * (1 - t) ** 2) / SD**2,
        lambda lam: 2 * normal(lam, 2.4, 2.4) * (torch.exp(-lam) + SD**2) / SD**2,
    ),
    (
        "cosmap",
        "",
        lambda t: 2 / (math.pi * (t**2 + (1 - t) ** 2)),
        lambda lam: sech(lam / 2) * (1 + torch.exp(-lam / 2)) ** 2 / math.pi,
    ),
    (
        "sd3_logit_normal",
        ", m: 0.3, s: 0.9",
        lambda t: logit_normal(t, 0.3, 0.9),
        lambda lam: 2 * normal(lam, -0.6, 1.8) * (1 + torch.exp(-lam / 2)) ** 2,
    ),
]
IDS = [f"{k}{o.replace(', ', '-').replace(': ', '=')}" for k, o, _, _ in TABLE]


def weighting_spec(path: str, kind: str, options: str) -> str:
    return spec(PATHS[path], SAFE_RANGES, f"weighting: {{kind: {kind}{options}}}\n")


@pytest.mark.parametrize("kind,options,w_rf,w_lambda", TABLE, ids=IDS)
def test_rectified_weight_is_the_master_table(build_module, kind, options, w_rf, w_lambda):
    m = build_module(weighting_spec("rectified", kind, options))
    torch.testing.assert_close(m.weight(T), w_rf(T), rtol=1e-10, atol=1e-12)
    # and the two columns of the table agree: W_v = w(lambda)*exp(lambda/2) on this path
    lam = torch.log(m.alpha(T) ** 2 / m.sigma(T) ** 2)
    torch.testing.assert_close(w_lambda(lam) * torch.exp(lam / 2), w_rf(T), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("path", ["vp_cosine", "vp_linear", "edm", "polynomial"])
@pytest.mark.parametrize("kind,options,w_rf,w_lambda", TABLE, ids=IDS)
def test_weight_on_other_paths_is_w_lambda_in_velocity_units(
    build_module, path, kind, options, w_rf, w_lambda
):
    m = build_module(weighting_spec(path, kind, options))
    a, s = m.alpha(T), m.sigma(T)
    kappa = m.d_sigma(T) * a - m.d_alpha(T) * s
    expected = w_lambda(torch.log(a**2 / s**2)) * a / (s * kappa)
    torch.testing.assert_close(m.weight(T), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_uniform_is_plain_flow_matching_on_every_path(build_module, path):
    """W_v = 1, and the loss is the plain mean squared velocity error (prune=False keeps weight,
    which this loss does not call)."""
    m = build_module(spec(PATHS[path], SAFE_RANGES), prune=False)
    torch.testing.assert_close(m.weight(T), torch.ones_like(T))
    g = torch.Generator().manual_seed(3)
    x = torch.randn(99, 2, generator=g, dtype=torch.float64)
    eps = torch.randn(99, 2, generator=g, dtype=torch.float64)

    def model(z, t, y=None):
        return torch.sin(1.3 * z + t[:, None]) + 0.5 * z.roll(1, dims=1) * torch.cos(3 * t[:, None])

    z = m.interpolate(x, eps, T)
    expected = (model(z, T) - m.target_velocity(x, eps, T)).square().mean()
    loss, _ = m.loss_fn(model, x, eps, T)
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)


def test_sd3_and_edm_weights_peak_where_methods_says(build_module):
    """SD3 (m=0, s=1) and EDM as w(lambda) on lambda in [-10, 10]: total variation 0.09 between the
    normalised densities (METHODS.md §4.2). The peaks are at -3.376 (SD3, the root of
    lambda = -4*sigmoid(-lambda/2)) and -3.308 (EDM); METHODS.md quotes them the other way round."""
    lam = torch.linspace(-10, 10, 200001, dtype=torch.float64)
    curves = []
    for kind in ("sd3_logit_normal", "edm"):
        m = build_module(weighting_spec("rectified", kind, ""), prune=False)
        t = m.time_from_log_snr(lam)
        w = m.weight(t) * torch.exp(-lam / 2)  # back to w(lambda) on the rectified path
        curves.append(w / w.max())
    peaks = [float(lam[c.argmax()]) for c in curves]
    assert peaks[0] == pytest.approx(-3.376, abs=1e-3) and peaks[1] == pytest.approx(
        -3.308, abs=1e-3
    )
    dl = float(lam[1] - lam[0])
    tv = 0.5 * float(
        (curves[0] / (curves[0].sum() * dl) - curves[1] / (curves[1].sum() * dl)).abs().sum() * dl
    )
    assert tv == pytest.approx(0.09, abs=0.01)
