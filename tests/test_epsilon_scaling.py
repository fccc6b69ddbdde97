"""Epsilon Scaling (sampler.epsilon_scaling, METHODS 7.2-7.5) against the papers' own forms.

The script applies ES by wrapping the field a sampler step evaluates (epsilon_scaled), in velocity
space u' = u - (1 - 1/lambda)*(kappa/alpha)*eps_hat or on (x_hat, eps_hat); `with
m.epsilon_schedule(fn)` samples with another schedule fn(t, i, n) -> lambda. The tests
rebuild the DDIM-ES step (Ning et al.: x' = (z - sigma*eps/lambda)/alpha, z_s = alpha_s*x' +
sigma_s*eps/lambda) and EDM-ES (D' = x - sigma*eps_hat/lambda in sigma-space, both Heun evaluations
scaled) by hand from the raw network output, and check that lambda = 1 changes nothing, that the
alpha_min guard skips exactly the t = 1 evaluation, that the schedules are what they say, and that
the lambda search recovers a known inflation of the noise prediction on Gaussian data.
"""

from __future__ import annotations

import math

import pytest
import torch
from analytic import GaussianModel, exact_endpoint
from test_predictions import Wiggly

MU, S = 1.5, 0.3

BASE = (
    "version: 1\n"
    "data: {kind: toy2d, distribution: moons}\n"
    "model: {kind: mlp, hidden: 16, depth: 1, time_dim: 8}\n"
)


def es_spec(sampler: str, es: str | None = "{kind: constant, b: 1.1}", extra: str = "") -> str:
    """A spec with `sampler` (a flow mapping without the closing brace) and epsilon_scaling es."""
    body = sampler if es is None else f"{sampler}, epsilon_scaling: {es}"
    default_eval = "eval: {kind: w2, plot: false}\n"
    if "dopri5" in sampler:  # no step grid: the grid-based flow diagnostics must be off
        default_eval = "eval: {kind: w2, plot: false, straightness: false, few_step: []}\n"
    return BASE + f"sampler: {body}}}\n" + (extra or default_eval)


def noise(n: int = 256, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def const(lam: float):
    return lambda t, i, n: lam


NO_SCALING = const(1.0)  # lambda = 1 everywhere: the sampler without Epsilon Scaling

STOCHASTIC_KINDS = ("ddim_eta", "ddpm", "edm_stochastic", "euler_maruyama")


def noise_kw(sampler: str, seed: int = 3) -> dict:
    """generator= for the samplers that inject noise (only they take one)."""
    kind = sampler.split(",")[0].removeprefix("{kind: ").rstrip("}")
    return {"generator": torch.Generator().manual_seed(seed)} if kind in STOCHASTIC_KINDS else {}


SAMPLERS = [
    "{kind: euler",
    "{kind: heun, space: t",
    "{kind: heun, space: sigma, t_max: 0.99",
    "{kind: midpoint",
    "{kind: rk4",
    "{kind: dopri5",
    "{kind: ddim_eta, eta: 0.5",
    "{kind: ddpm",
    "{kind: edm_stochastic, S_churn: 10, t_max: 0.99",
    "{kind: euler_maruyama, diffusion: linear",
    "{kind: dpmpp_2m",
]


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_lambda_one_is_the_identity_in_every_sampler(build_module, sampler):
    """lambda = 1 reproduces the sampler without ES bit for bit; lambda != 1 changes it."""
    plain = build_module(es_spec(sampler, None))
    scaled = build_module(es_spec(sampler))
    eps = noise(64)
    a, nfe_a = plain.sample(Wiggly(), eps, 6, **noise_kw(sampler))
    with scaled.epsilon_schedule(NO_SCALING):
        b, nfe_b = scaled.sample(Wiggly(), eps, 6, **noise_kw(sampler))
    assert torch.equal(a, b) and nfe_a == nfe_b
    c, _ = scaled.sample(Wiggly(), eps, 6, **noise_kw(sampler))
    assert (c - a).abs().max() > 1e-3


@pytest.mark.parametrize(
    "path,prediction",
    [
        ("rectified", "velocity"),
        ("vp_cosine", "epsilon"),
        ("vp_linear", "x0"),
        ("polynomial, n: 2.0", "velocity"),
        ("edm", "edm"),
    ],
)
def test_scaled_views_are_consistent_and_identity_at_one(build_module, path, prediction):
    """epsilon_scaled on the network's velocity field u(z, t) and on its denoiser (x_hat, eps_hat)
    (z, t): lambda = 1 returns the field itself; any lambda keeps z = alpha*x' + sigma*eps' and
    u' = d_alpha*x' + d_sigma*eps', with eps' = eps_hat/lambda exactly (METHODS 7.2 steps 2-3)."""
    extra = f"path: {{kind: {path}}}\nloss: {{kind: cfm, prediction: {{kind: {prediction}}}}}\n"
    extra += "train: {t_min: 0.001, t_max: 0.999}\neval: {kind: w2, plot: false}\n"
    # prune=False: velocity_field and denoiser are there whichever of them the sampler uses
    m = build_module(es_spec("{kind: euler, t_max: 0.99", extra=extra), prune=False)
    z = noise(50)
    times = torch.rand(10, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    u, denoise = m.velocity_field(Wiggly()), m.denoiser(Wiggly())
    assert m.epsilon_scaled(u, 1.0) is u and m.epsilon_scaled(denoise, 1.0) is denoise
    for t in (0.05 + 0.9 * times).tolist():
        a, sg, da, ds = m.path_at(t)
        x_hat, eps_hat = denoise(z, t)
        for lam in (1.0, 1.3, 0.8):
            x_new, eps_new = m.epsilon_scaled(denoise, lam)(z, t)
            u_new = m.epsilon_scaled(u, lam)(z, t)
            torch.testing.assert_close(eps_new, eps_hat / lam, rtol=1e-15, atol=1e-15)
            torch.testing.assert_close(a * x_new + sg * eps_new, z, rtol=1e-10, atol=1e-10)
            torch.testing.assert_close(da * x_new + ds * eps_new, u_new, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("path", ["rectified", "vp_cosine"])
def test_ddim_es_by_hand_equals_the_scripts_ddim_and_rf_euler(build_module, path):
    """Ning et al.'s DDIM-ES written in DDPM notation (alpha = sqrt(abar), sigma = sqrt(1 - abar))
    from the raw eps network equals the script's ddim_eta (eta = 0) with ES; on the rectified path
    it also equals Euler with ES (flow ES is DDIM-ES)."""
    t_max = 0.99
    extra = (
        f"path: {{kind: {path}}}\nloss: {{kind: cfm, prediction: {{kind: epsilon}}}}\n"
        "train: {t_max: 0.999}\neval: {kind: w2, plot: false}\n"
    )
    lam = 1.05
    es = f"{{kind: constant, b: {lam}}}"
    ddim = build_module(es_spec(f"{{kind: ddim_eta, eta: 0.0, t_max: {t_max}", es, extra))
    net = Wiggly()
    eps0 = noise(64)
    steps = 5
    grid = ddim.time_grid(steps)

    def ab(t: float) -> tuple[float, float]:
        tt = torch.tensor(t, dtype=torch.float64)
        return float(ddim.alpha(tt)), float(ddim.sigma(tt))

    x = ab(grid[0])[1] * eps0
    for t, s in zip(grid[:-1], grid[1:], strict=True):
        sqrt_abar, sqrt_1m = ab(t)
        e = net(x, torch.full((64,), t, dtype=torch.float64)) / lam
        x0 = (x - sqrt_1m * e) / sqrt_abar
        sqrt_abar_s, sqrt_1m_s = ab(s)
        x = sqrt_abar_s * x0 + sqrt_1m_s * e
    z, _ = ddim.sample(net, eps0, steps)
    torch.testing.assert_close(z, x, rtol=1e-10, atol=1e-10)
    if path == "rectified":
        euler = build_module(es_spec(f"{{kind: euler, t_max: {t_max}", es, extra))
        z_euler, _ = euler.sample(net, eps0, steps)
        torch.testing.assert_close(z_euler, x, rtol=1e-10, atol=1e-10)


def test_edm_es_heun_in_sigma_space_by_hand(build_module):
    """EDM-ES's edm_sampler (both Heun evaluations scaled) in VE coordinates, x = z/alpha and
    Sigma = sigma/alpha, with D(x; Sigma) the data prediction at t = Sigma/(1 + Sigma) and
    D' = x - Sigma*eps_hat/lambda, eps_hat = (x - D)/Sigma, equals the script's Heun (space sigma,
    EDM grid) with ES on the rectified path; and RF Euler with ES equals EDM-ES Euler in sigma."""
    lam = 1.07
    es = f"{{kind: constant, b: {lam}}}"
    heun = build_module(es_spec("{kind: heun, space: sigma, grid: {kind: edm}", es))
    euler = build_module(es_spec("{kind: euler, grid: {kind: edm}", es))
    net = Wiggly()  # a velocity network: on RF x_hat = z - t*u_hat
    steps = 6
    grid = heun.time_grid(steps)
    sig = [t / (1.0 - t) for t in grid]  # Sigma_i; the last is 0

    def denoise(x: torch.Tensor, s: float) -> torch.Tensor:
        t = s / (1.0 + s)
        z = (1.0 - t) * x
        u = net(z, torch.full((x.shape[0],), t, dtype=torch.float64))
        return z - t * u

    def d_scaled(x: torch.Tensor, s: float) -> torch.Tensor:
        d_hat = denoise(x, s)
        return (x - (x - s * ((x - d_hat) / s) / lam)) / s  # (x - D')/Sigma

    eps0 = noise(64)
    x_h = x_e = eps0 * (grid[0] / (1.0 - grid[0]))  # z = t_0*eps, x = z/alpha
    for i in range(steps):
        s0, s1 = sig[i], sig[i + 1]
        d = d_scaled(x_h, s0)
        x_next = x_h + (s1 - s0) * d
        if s1 > 0:
            x_next = x_h + (s1 - s0) * (d + d_scaled(x_next, s1)) / 2
        x_h = x_next
        x_e = x_e + (s1 - s0) * d_scaled(x_e, s0)
    z_h, _ = heun.sample(net, eps0, steps)
    z_e, _ = euler.sample(net, eps0, steps)
    torch.testing.assert_close(z_h, x_h, rtol=1e-9, atol=1e-9)  # alpha_0 = 1: z_0 = x_0
    torch.testing.assert_close(z_e, x_e, rtol=1e-9, atol=1e-9)


def test_per_step_displacement(build_module):
    """One DDIM step with ES minus without: (1 - 1/lambda)*sigma_s*(e^((l_s - l_t)/2) - 1)*eps_hat
    with l the log-SNR (METHODS 7.2), on vp_cosine from a mid-grid state."""
    extra = "path: {kind: vp_cosine}\ntrain: {t_max: 0.999}\neval: {kind: w2, plot: false}\n"
    lam = 1.2
    m = build_module(
        es_spec("{kind: ddim_eta, eta: 0.0, t_max: 0.99", f"{{kind: constant, b: {lam}}}", extra)
    )
    net, z, steps, i = Wiggly(), noise(64), 8, 3
    grid = m.time_grid(steps)
    t, s = grid[i], grid[i + 1]
    _, with_es, _ = next(m.sample_steps(net, z, steps, start=i))
    with m.epsilon_schedule(NO_SCALING):
        _, without, _ = next(m.sample_steps(net, z, steps, start=i))
    # eps_hat of the velocity network (METHODS 3): (alpha*u_hat - d_alpha*z)/kappa
    (a_t, s_t, da_t, ds_t), (a_s, s_s, _, _) = m.path_at(t), m.path_at(s)
    u_hat = net(z, torch.full((len(z),), t, dtype=torch.float64))
    eps_hat = (a_t * u_hat - da_t * z) / (ds_t * a_t - da_t * s_t)
    ratio = math.exp((2 * math.log(a_s / s_s) - 2 * math.log(a_t / s_t)) / 2)
    expected = (1 - 1 / lam) * s_s * (ratio - 1) * eps_hat
    torch.testing.assert_close(with_es - without, expected, rtol=1e-9, atol=1e-12)


def test_alpha_min_skips_exactly_the_t1_evaluation(build_module):
    m = build_module(es_spec("{kind: euler", "{kind: constant, b: 1.2}"))
    net, eps = Wiggly(), noise(32)
    z = eps.clone()  # sigma_1 = 1
    with_es = list(m.sample_steps(net, z, 5))
    with m.epsilon_schedule(NO_SCALING):
        without = list(m.sample_steps(net, z, 5))
    assert torch.equal(with_es[0][1], without[0][1])  # the step from t = 1 is unscaled
    assert (with_es[1][1] - without[1][1]).abs().max() > 1e-3
    # a threshold above alpha at t = 0.8 (0.2) leaves the second step unscaled as well
    m2 = build_module(es_spec("{kind: euler", "{kind: constant, b: 1.2, alpha_min: 0.25}"))
    steps2 = list(m2.sample_steps(net, z, 5))
    assert torch.equal(steps2[1][1], without[1][1])
    assert (steps2[2][1] - without[2][1]).abs().max() > 1e-3


def test_schedules(build_module):
    n = 8
    lin = build_module(es_spec("{kind: euler", "{kind: linear, b: 1.01, k: 0.2}"))
    idx = build_module(es_spec("{kind: euler", "{kind: linear_index, b: 1.0, k: 0.02}"))
    tab = build_module(es_spec("{kind: euler", "{kind: table, t: [0.2, 0.6], values: [1.0, 1.2]}"))
    grid = lin.time_grid(n)
    assert [lin.epsilon_lambda(t, i, n) for i, t in enumerate(grid[:-1])] == pytest.approx(
        [1.01 + 0.2 * t for t in grid[:-1]]
    )
    assert [idx.epsilon_lambda(t, i, n) for i, t in enumerate(grid[:-1])] == pytest.approx(
        [1.0 + 0.02 * (n - 1 - i) for i in range(n)]
    )
    assert [tab.epsilon_lambda(t, 0, n) for t in (0.0, 0.2, 0.4, 0.6, 1.0)] == pytest.approx(
        [1.0, 1.0, 1.1, 1.2, 1.2]
    )
    # On a uniform grid linear_index(b, k) = linear(b - k, k*N) (METHODS 7.4).
    b, k = 1.0, 0.02
    same = build_module(es_spec("{kind: euler", f"{{kind: linear, b: {b - k}, k: {k * n}}}"))
    eps = noise(64)
    torch.testing.assert_close(
        idx.sample(Wiggly(), eps, n)[0], same.sample(Wiggly(), eps, n)[0], rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("prediction", ["velocity", "epsilon"])
def test_search_recovers_a_known_eps_inflation(build_module, prediction):
    """The exact network of N(MU, S^2) data with eps_hat inflated by c (x_hat from
    z = alpha*x_hat + sigma*eps_hat): the lambda search, scored by the distance to the exact ODE
    endpoint of the same noise, finds c."""
    c = 1.15
    extra = (
        f"loss: {{kind: cfm, prediction: {{kind: {prediction}}}}}\ntrain: {{t_max: 0.999}}\n"
        "eval: {kind: w2, plot: false}\n"
    )
    t_max = "" if prediction == "velocity" else ", t_max: 0.999"
    m = build_module(es_spec(f"{{kind: heun, space: t, steps: 16{t_max}", extra=extra))
    model = GaussianModel(m, MU, S, inflate_eps=c)
    steps = 16

    def score(schedule, seed):
        # RMS distance to where the exact ODE carries the same noise: no sampling error
        eps = noise(500, seed)
        t0 = m.time_grid(steps)[0]
        z0 = float(m.sigma(torch.tensor(t0, dtype=torch.float64))) * eps
        exact = exact_endpoint(m, z0, t0, MU, S)
        with m.epsilon_schedule(schedule):
            z = m.sample(model, eps, steps)[0]
        return float((z - exact).square().mean().sqrt())

    result = m.search_epsilon_scaling(
        score, "constant", [1.0 + 0.05 * j for j in range(7)], [0.0], [0, 1], steps, refine=2
    )
    assert result["best"]["b"] == pytest.approx(c, abs=0.005)
    assert result["best"]["mean"] < 0.2 * result["baseline"]["mean"]
    assert result["curve"] == sorted(result["curve"], key=lambda r: (r["k"], r["b"]))
    assert {r["b"] for r in result["curve"]} >= {1.0, 1.15, 1.14, 1.16}


@pytest.mark.parametrize("sampler", ["{kind: heun, space: t, steps: 16", "{kind: ddpm, steps: 16"])
@pytest.mark.parametrize("c", [1.15, 0.9])
def test_exposure_bias_with_and_without_scaling(build_module, sampler, c):
    """With eps_hat inflated by c, lambda = c gives back the exact network's delta curve (to float
    precision) in both modes, and the single-step delta from t = 1 drops. The chain delta need not:
    for Gaussian data even the exact network has delta > 0 (x_hat = E[x | z] is not x), and a chain
    from t = 1 has no link to x, so with c > 1 it is lower without the correction (as measured)."""
    extra = "eval: {kind: w2, plot: false, exposure_bias: {mode: both, n_samples: 2000}}\n"
    m = build_module(es_spec(sampler, extra=extra))
    model, exact = GaussianModel(m, MU, S, inflate_eps=c), GaussianModel(m, MU, S)
    x, eps = MU + S * noise(2000, 7), noise(2000, 8)

    def curve(net, mode, schedule):
        with m.epsilon_schedule(schedule):
            return m.exposure_bias_curve(net, x, eps, mode, **noise_kw(sampler, 5))[1]

    for mode in ("chain", "single_step"):
        plain = curve(model, mode, NO_SCALING)
        fixed = curve(model, mode, const(c))
        reference = curve(exact, mode, NO_SCALING)
        assert fixed == pytest.approx(reference, rel=1e-9, abs=1e-12)
        assert max(abs(p - r) for p, r in zip(plain, reference, strict=True)) > 1e-3
        if mode == "single_step":
            assert sum(fixed) < 0.85 * sum(plain)


def test_each_option_changes_the_generated_code_as_it_says(tmp_path, import_text):
    from conftest import build_text

    off = build_text(es_spec("{kind: heun, space: t", None), (), tmp_path)
    for name in ("epsilon_scaling", "epsilon_lambda", "epsilon_scaled", "tune-es", "Epsilon"):
        assert name not in off  # off: no Epsilon Scaling code at all
    texts = {
        kind: build_text(es_spec("{kind: heun, space: t", es), (), tmp_path)
        for kind, es in {
            "constant": "{kind: constant, b: 1.0123}",
            "linear": "{kind: linear, b: 1.0123, k: 0.0456}",
            "linear_index": "{kind: linear_index, b: 1.0123, k: 0.0456}",
            "table": "{kind: table, t: [0.25, 0.75], values: [1.0123, 0.9876]}",
        }.items()
    }
    for kind, text in texts.items():
        assert f'    """{kind}: lambda' in text  # only the chosen schedule is emitted
        others = [k for k in texts if k != kind and not kind.startswith(k)]
        assert not any(f'    """{k}: lambda' in text for k in others)
        es = import_text(text).SPEC["sampler"]["epsilon_scaling"]  # the embedded spec
        assert es.get("b") == 1.0123 or es.get("values") == [1.0123, 0.9876]
        assert es["alpha_min"] == 0.001
        # the corrector evaluates the step's field from grid_steps, which is the scaled field
        assert "for i, t, s, u in grid_steps(velocity_field(model, y), grid, start):" in text
        assert "z = z + h * (d + u(z_euler, s)) / 2" in text
        assert "epsilon_scaled(field, schedule(grid[i], i, n))" in text
        assert '"tune-es": cmd_tune_es' in text
    linear, constant = (
        import_text(texts[k]).SPEC["sampler"]["epsilon_scaling"] for k in ("linear", "constant")
    )
    assert linear["k"] == 0.0456 and "k" not in constant


TOY_ES = (
    "version: 1\n"
    "name: toy_es_cli\n"
    "data: {kind: toy2d, distribution: moons}\n"
    "model: {kind: mlp, hidden: 32, depth: 2, time_dim: 16}\n"
    "sampler: {kind: euler, steps: 4, epsilon_scaling: {kind: constant, b: 1.0}}\n"
    "train: {steps: 200, batch_size: 128, warmup_steps: 10, log_every: 100, "
    "checkpoint_every: 200, prefetch: 0}\n"
    "eval: {kind: w2, n_samples: 300, plot: false, transport_cost: false, straightness: false, "
    "exposure_bias: {mode: chain, n_samples: 300}}\n"
)


def test_tune_es_command_end_to_end(build_module, tmp_path, capsys):
    """Train a tiny toy model, then tune-es: a curve over b with the baseline, the best point, a
    JSON report and a spec fragment that specc accepts; the eval reports delta with and without."""
    import json

    from specc.load import load_text

    m = build_module(TOY_ES)
    out = tmp_path / "run"
    assert m.main(["--device", "cpu", "--out", str(out)]) == 0
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    for key in ("exposure_bias_chain", "exposure_bias_chain_no_es"):
        assert last[key] >= 0 and len(last[f"{key}_curve"]["delta"]) == 4
    capsys.readouterr()
    fragment = tmp_path / "es.yaml"
    args = ["tune-es", "--device", "cpu", "--out", str(out), "--b", "0.9:1.3:0.1"]
    args += ["--seeds", "0-1", "--n-samples", "200", "--refine", "1", "--write-spec", str(fragment)]
    assert m.main(args) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "tune_es.json").read_text())
    assert report["metric"] == "w2" and report["steps"] == 4 and report["seeds"] == [0, 1]
    bs = [r["b"] for r in report["curve"]]
    assert {0.9, 1.0, 1.1, 1.2, 1.3} <= set(bs) and len(bs) > 5  # coarse grid + refinement
    assert report["best"]["mean"] == min(r["mean"] for r in report["curve"])
    assert report["baseline"]["b"] == 1.0 and len(report["baseline"]["values"]) == 2
    assert "tune-es  best constant b" in printed
    tuned = load_text(fragment.read_text(), "tuned.yaml").tree  # YAML 1.2, as specc reads it
    b = tuned["sampler"]["epsilon_scaling"]["b"]
    assert tuned["sampler"]["epsilon_scaling"] == {"kind": "constant", "b": b, "alpha_min": 0.001}
    assert b == pytest.approx(report["best"]["b"], rel=1e-5)
    # a complete spec: the original with the tuned schedule, which specc builds as it is ...
    assert tuned["name"] == f"{m.CONFIG.name}_tuned" and tuned["version"] == 1
    assert {k: v for k, v in tuned.items() if k not in ("name", "sampler")} == {
        k: v for k, v in m.SPEC.items() if k not in ("name", "sampler")
    }
    tuned_module = build_module(fragment)
    assert tuned_module.CONFIG.sampler.epsilon_scaling.b == b
    # ... and evaluates the original run's checkpoint without a warning (the same network)
    capsys.readouterr()
    assert tuned_module.main(["eval", "--device", "cpu", "--out", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err
    # a grid far below the optimum: the best point (the baseline b = 1) lies outside it
    narrow = ["tune-es", "--device", "cpu", "--out", str(out), "--b", "0.5:0.6:0.1"]
    assert m.main([*narrow, "--seeds", "0", "--n-samples", "100", "--refine", "0"]) == 0
    assert "the best b = 1 is on the edge of --b: widen it" in capsys.readouterr().err
