"""Every combination the validator accepts samples finite values, or the validator rejects it.

The class behind issue 13's NaN samples: a conversion or a step that divides by a coefficient the
path makes 0 at an end (kappa_1 on the polynomial path, alpha_1 under Epsilon Scaling, sigma_0
for a score). Each path x sampler (with and without Epsilon Scaling, velocity network) and each
path x network output (a denoising sampler with Epsilon Scaling) is validated; accepted ones are
built and sample a few steps from a random (not zero-initialised) network, which must give finite
samples. A rejection must name the option to change.
"""

from __future__ import annotations

import inspect

import pytest
import torch
from conftest import import_script

from specc.pipeline import build_spec

PATHS = [
    "{kind: rectified}",
    "{kind: rectified, sigma_min: 0.01}",
    "{kind: vp_cosine}",
    "{kind: vp_linear}",
    "{kind: edm}",
    "{kind: polynomial, n: 2.0}",
    "{kind: polynomial, n: 3.0}",
]
SAMPLERS = [
    "{kind: euler",
    "{kind: heun, space: t",
    "{kind: heun, space: sigma",
    "{kind: midpoint",
    "{kind: rk4",
    "{kind: dopri5",
    "{kind: ddim_eta, eta: 1.0",
    "{kind: ddpm",
    "{kind: edm_stochastic",
    "{kind: euler_maruyama, diffusion: ddpm",
    "{kind: euler_maruyama, diffusion: linear",
    "{kind: dpmpp_2m",
]
OUTPUTS = ["velocity", "epsilon", "x0", "v", "score", "edm"]
ES = ", epsilon_scaling: {kind: constant, b: 1.1}"


# the samplers that step with (x_hat, eps_hat): even a velocity network is converted there
DENOISING = ("ddim_eta", "ddpm", "edm_stochastic", "dpmpp_2m", "heun, space: sigma")


def combinations(path: str) -> list[tuple[str, str, str]]:
    """Every sampler with Epsilon Scaling (whose wrapper converts every field); the denoising ones
    also without it; every output through a denoising sampler with Epsilon Scaling."""
    out = [(s, "velocity", ES) for s in SAMPLERS]
    out += [(s, "velocity", "") for s in SAMPLERS if any(d in s for d in DENOISING)]
    return out + [("{kind: ddim_eta, eta: 1.0", o, ES) for o in OUTPUTS if o != "velocity"]


def spec_text(path: str, sampler: str, output: str, es: str) -> str:
    steps = "" if "dopri5" in sampler else ", steps: 4"
    return (
        "version: 1\nname: finite\ndata: {kind: toy2d, distribution: moons}\n"
        "model: {kind: mlp, hidden: 16, depth: 2, time_dim: 8}\n"
        f"path: {path}\nloss: {{kind: cfm, prediction: {{kind: {output}}}}}\n"
        f"weighting: {{kind: output_mse}}\nsampler: {sampler}{steps}{es}}}\n"
        "train: {steps: 10, batch_size: 8}\neval: {kind: w2, n_samples: 16, plot: false}\n"
    )


@pytest.mark.parametrize("path", PATHS)
def test_accepted_combinations_sample_finite_values(path, tmp_path):
    accepted = 0
    for sampler, output, es in combinations(path):
        spec = tmp_path / "spec.yaml"
        spec.write_text(spec_text(path, sampler, output, es))
        result = build_spec(spec)
        case = f"path {path}, sampler {sampler}}}, output {output}{' with ES' if es else ''}"
        if not result.ok:
            errors = [d for d in result.diagnostics if d.severity == "error"]
            assert all(d.path.startswith("$.") and d.location.line for d in errors), case
            continue
        accepted += 1
        m = import_script(result.text, tmp_path, "finite")
        torch.manual_seed(0)
        model = m.build_model()
        for p in model.parameters():  # the untrained output layer is 0: give it a random one
            if not bool(p.any()):
                torch.nn.init.normal_(p, std=0.3)
        kwargs = {}
        if "generator" in inspect.signature(m.sample).parameters:
            kwargs["generator"] = torch.Generator().manual_seed(0)
        eps = torch.randn(32, 2, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            x, _ = m.sample(model, eps, **kwargs)
        assert bool(torch.isfinite(x).all()), f"{case}: non-finite samples"
    assert accepted > 0
