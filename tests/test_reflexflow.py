"""ReflexFlow (loss.kind reflexflow: ADR, FC), Input Perturbation and the exposure-bias diagnostics
against the math of METHODS 7.8, 8.2 and 8.5 (checklist items 19-23), not against themselves."""

from __future__ import annotations

import math

import pytest
import torch
from analytic import GaussianModel, path_and_derivatives
from diffusion_specs import PATHS, SAFE_RANGES, spec

MU = 1.5
RF = "loss: {kind: reflexflow, adr: {}, fc: {}}\n"


def rf_spec(loss: str = RF, *parts: str) -> str:
    return spec(*parts, loss)


def batch(n: int = 64, dim: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = MU + torch.zeros(n, dim, dtype=torch.float64)
    eps = torch.randn(n, dim, generator=g, dtype=torch.float64)
    t = 0.01 + 0.98 * torch.rand(n, generator=g, dtype=torch.float64)
    return x, eps, t


class Recorder(torch.nn.Module):
    """Wraps a model: counts calls, records whether each ran with gradients, and keeps the first
    call's output so tests can read the gradient that reaches it."""

    def __init__(self, inner, param_on_second: bool = False):
        super().__init__()
        self.inner = inner
        self.calls: list[bool] = []
        self.first: torch.Tensor | None = None
        self.theta = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.param_on_second = param_on_second

    def forward(self, z, t, y=None):
        out = self.inner(z, t, y)
        self.calls.append(torch.is_grad_enabled())
        if len(self.calls) == 1 and torch.is_grad_enabled():
            out = out.clone().requires_grad_(True) if not out.requires_grad else out
            self.first = out
            self.first.retain_grad()
        elif len(self.calls) == 2 and self.param_on_second:
            # pass 2 is off by theta + 0.3 along a fixed direction, so L_ADR has a gradient
            out = out + (self.theta + 0.3) * torch.ones_like(out)
        return out


# ---- The perfect model: no drift, the ADR target is the FM target, delta = 0 (item 21).


@pytest.mark.parametrize("path", sorted(PATHS))
def test_with_no_drift_the_anti_drift_target_is_the_flow_matching_target(build_module, path):
    """x1_hat = z_t1 (no drift) gives u_adr = d_alpha*x + d_sigma*eps, on every path."""
    m = build_module(rf_spec(RF, PATHS[path], SAFE_RANGES))
    g = torch.Generator().manual_seed(1)
    x = torch.randn(50, 2, generator=g, dtype=torch.float64)
    eps = torch.randn(50, 2, generator=g, dtype=torch.float64)
    t1 = 0.01 + 0.98 * torch.rand(50, generator=g, dtype=torch.float64)
    z1 = m.interpolate(x, eps, t1)
    torch.testing.assert_close(
        m.anti_drift_target(z1, x, t1), m.target_velocity(x, eps, t1), rtol=1e-10, atol=1e-10
    )


def test_rectified_anti_drift_target_carries_the_biased_input_back_to_the_data(build_module):
    """RF: u_adr = (x1_hat - x)/t1, so x1_hat - t1*u_adr = x for any x1_hat."""
    m = build_module(rf_spec())
    g = torch.Generator().manual_seed(2)
    x, x1_hat = torch.randn(2, 40, 2, generator=g, dtype=torch.float64)
    t1 = 0.05 + 0.9 * torch.rand(40, generator=g, dtype=torch.float64)
    u_adr = m.anti_drift_target(x1_hat, x, t1)
    torch.testing.assert_close(u_adr, (x1_hat - x) / t1[:, None], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(x1_hat - t1[:, None] * u_adr, x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("prediction", ["velocity", "epsilon", "x0"])
def test_perfect_model_on_gaussian_data_has_no_drift_no_adr_loss_and_no_bias(
    build_module, prediction
):
    """Point-mass Gaussian data x = mu (s = 0): the closed-form network is exact for every sample,
    so u0_hat = u0, x1_hat = z1, u_adr = u, L_ADR = 0, delta = 0 and the FM error is 0."""
    ranges = SAFE_RANGES if prediction != "velocity" else ""
    loss = f"loss: {{kind: reflexflow, prediction: {{kind: {prediction}}}, adr: {{}}, fc: {{}}}}\n"
    m = build_module(rf_spec(loss, ranges))
    model = GaussianModel(m, MU, 0.0)
    x, eps, t = batch()
    torch.manual_seed(0)
    loss_value, terms = m.loss_fn(model, x, eps, t, None)
    assert float(terms["fm"]) < 1e-10
    assert float(terms["adr"]) < 1e-10
    assert float(terms["delta_abs"]) < 1e-4  # float32 round-off of the conversions
    assert float(loss_value) < 1e-8


def test_fc_weight_is_one_where_there_is_no_bias_and_at_least_one_elsewhere(build_module):
    m = build_module(rf_spec())
    assert torch.equal(m.fc_weight(torch.zeros(4, 3)), torch.ones(4, 3))
    delta = torch.randn(8, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    w = m.fc_weight(delta)
    assert bool((w >= 1).all())
    # w = 1 + alpha*|delta|/mean|delta| per sample, so its per-sample mean is 1 + alpha
    torch.testing.assert_close(w.flatten(1).mean(dim=1), torch.full((8,), 2.0), rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    "weight, check",
    [
        ("abs", lambda w, d: torch.allclose(w.flatten(1).mean(1), torch.ones(len(d)))),
        ("delta_squared", lambda w, d: torch.equal(w, d.square())),
        ("per_sample", lambda w, d: bool((w.flatten(1).std(1) == 0).all())),
        ("signed_l1", lambda w, d: bool(((w - 1).abs() < 1).all())),
    ],
)
def test_fc_weight_alternatives(build_module, weight, check):
    keep = ", keep_fm: true" if weight in ("abs", "delta_squared") else ""
    m = build_module(rf_spec(f"loss: {{kind: reflexflow, fc: {{weight: {weight}{keep}}}}}\n"))
    delta = torch.randn(6, 2, generator=torch.Generator().manual_seed(3))
    assert check(m.fc_weight(delta), delta)


def test_rollout_times_never_exceed_t0(build_module):
    """t1 = t0*(1 - r) <= t0, floored at t_eps (item 20); fixed_step: t0 - step, floored."""
    m = build_module(rf_spec())
    t0 = torch.rand(1000, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(0)
    t1 = m.rollout_times(t0)
    assert bool((t1 <= t0).all())
    assert bool((t1 >= torch.minimum(t0, torch.tensor(1e-3))).all())
    assert 0.4 < float((t1 / t0).mean()) < 0.6  # E[1 - r] = 1/2
    fixed = build_module(rf_spec(), "loss.t1_rule=fixed_step", "loss.t1_step=0.1")
    t1 = fixed.rollout_times(t0)
    torch.testing.assert_close(t1, torch.minimum(t0, (t0 - 0.1).clamp_min(1e-3)))


# ---- Gradients through the rollout, and how many passes run (item 22).


def _oracle(m):
    return GaussianModel(m, MU, 0.0)


@pytest.mark.parametrize("detach", [False, True])
def test_gradient_reaches_the_first_pass_through_the_rollout_only_when_configured(
    build_module, detach
):
    """The first pass is exact (its FM error, hence its own gradient, is 0); the second pass is off
    by a constant, so L_ADR > 0. The gradient reaching pass 1's output then comes only through
    the rollout x1_hat = z0 + (t1 - t0)*u0_hat: nonzero with detach_rollout false, 0 with true."""
    loss = "loss: {kind: reflexflow, adr: {}}\n"
    m = build_module(rf_spec(loss), f"loss.detach_rollout={str(detach).lower()}")
    model = Recorder(_oracle(m), param_on_second=True)
    x, eps, t = batch()
    torch.manual_seed(0)
    total, terms = m.loss_fn(model, x, eps, t, None)
    assert float(terms["adr"]) > 1e-3
    total.backward()
    assert model.calls == [True, True]  # ADR alone: two passes, both with gradients
    grad = model.first.grad
    assert model.theta.grad is not None and float(model.theta.grad.abs()) > 0
    if detach:
        assert grad is None or float(grad.abs().max()) == 0.0
    else:
        assert float(grad.abs().max()) > 1e-6


def test_detach_target_keeps_the_rollout_gradient_through_pass_two_input(build_module):
    """adr.detach_target true stops the gradient through u_adr only; with detach_rollout false the
    gradient still reaches pass 1 through pass 2's input x1_hat."""
    loss = "loss: {kind: reflexflow, adr: {detach_target: true}}\n"
    m = build_module(rf_spec(loss))
    model = Recorder(_oracle(m), param_on_second=True)
    x, eps, t = batch()
    torch.manual_seed(0)
    total, _ = m.loss_fn(model, x, eps, t, None)
    total.backward()
    assert float(model.first.grad.abs().max()) > 1e-6


@pytest.mark.parametrize(
    "loss, calls",
    [
        ("{kind: reflexflow, adr: {}, fc: {}}", [True, True, False]),
        ("{kind: reflexflow, adr: {}}", [True, True]),
        ("{kind: reflexflow, fc: {}}", [True, False, False]),
        ("{kind: reflexflow, fc: {delta: state}}", [True]),
        ("{kind: reflexflow, adr: {}, fc: {delta: state}}", [True, True]),
    ],
)
def test_forward_passes_and_which_run_without_gradients(build_module, loss, calls):
    m = build_module(rf_spec(f"loss: {loss}\n"))
    model = Recorder(_oracle(m))
    x, eps, t = batch()
    torch.manual_seed(0)
    m.loss_fn(model, x, eps, t, None)
    assert model.calls == calls


def test_p_apply_runs_the_extra_passes_on_the_chosen_samples_only(build_module):
    m = build_module(rf_spec(), "loss.p_apply=0.25")
    sizes = []

    class Sizes(torch.nn.Module):
        def forward(self, z, t, y=None):
            sizes.append(z.shape[0])
            return _oracle(m)(z, t, y)

    x, eps, t = batch(400)
    torch.manual_seed(0)
    m.loss_fn(Sizes(), x, eps, t, None)
    assert sizes[0] == 400 and sizes[1] == sizes[2]
    assert 60 < sizes[1] < 140  # Binomial(400, 0.25)


@pytest.mark.parametrize(
    "loss, terms",
    [
        ("{kind: reflexflow, adr: {}, fc: {}}", {"fm", "adr", "fc", "fc_w_mean", "delta_abs"}),
        ("{kind: reflexflow, adr: {}}", {"fm", "adr"}),
        ("{kind: reflexflow, fc: {}}", {"fm", "fc", "fc_w_mean", "delta_abs"}),
    ],
)
def test_a_step_where_no_sample_takes_the_rollout_is_plain_flow_matching(build_module, loss, terms):
    """p_apply 0: no sample is chosen, so no rollout pass runs, the FC weight is 1 and there is no
    ADR term; the loss is the FM loss, here of the untrained (zero-output) MLP on RF:
    mean |0 - (eps - x)|^2."""
    m = build_module(rf_spec(f"loss: {loss}\n"), "loss.p_apply=0")
    torch.manual_seed(0)
    model = Recorder(m.build_model())
    x, eps, t = (v.float() for v in batch(32))
    x = x + torch.randn(x.shape, generator=torch.Generator().manual_seed(7))
    total, logged = m.loss_fn(model, x, eps, t, None)
    assert model.calls == [True]  # pass 1 only
    fm = (eps - x).square().mean()
    torch.testing.assert_close(total, fm)
    assert set(logged) == terms
    torch.testing.assert_close(logged["fm"], fm)
    if "adr" in terms:
        assert float(logged["adr"]) == 0.0
    if "fc" in terms:
        torch.testing.assert_close(logged["fc"], fm)
        assert float(logged["fc_w_mean"]) == 1.0 and float(logged["delta_abs"]) == 0.0


def test_adr_direction_loss_is_two_minus_two_cosine(build_module):
    m = build_module(rf_spec())
    g = torch.Generator().manual_seed(5)
    a, b = torch.randn(2, 10, 3, generator=g)
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1)
    torch.testing.assert_close(m.adr_per_sample(a, b), 2 - 2 * cos, rtol=1e-5, atol=1e-5)
    mag = build_module(rf_spec("loss: {kind: reflexflow, adr: {form: magnitude}}\n"))
    torch.testing.assert_close(mag.adr_per_sample(a, b), (a - b).square().mean(dim=1))


def test_reversed_time_reflexflow_gives_the_same_rollout_and_losses(build_module):
    """Item 20: the sources' reversed time (t' = 1 - t, X_0 noise, X_1 data, v = -u) with
    t1' = t0' + (1 - t0')*r, x_hat = x_t0' + (t1' - t0')*v and v_ADR = (x - x_hat)/(1 - t1') gives
    the canonical x1_hat, and the same direction loss."""
    m = build_module(rf_spec())
    g = torch.Generator().manual_seed(6)
    x, eps = torch.randn(2, 30, 2, generator=g, dtype=torch.float64)
    t0 = 0.05 + 0.9 * torch.rand(30, generator=g, dtype=torch.float64)
    r = torch.rand(30, generator=g, dtype=torch.float64)
    u0_hat = torch.randn(30, 2, generator=g, dtype=torch.float64)  # any prediction
    u1_hat = torch.randn(30, 2, generator=g, dtype=torch.float64)
    t1 = t0 * (1 - r)
    x1_hat = m.interpolate(x, eps, t0) + (t1 - t0)[:, None] * u0_hat
    loss = m.adr_per_sample(u1_hat, m.anti_drift_target(x1_hat, x, t1))
    t0p, t1p = 1 - t0, 1 - t0 + t0 * r  # t1' = t0' + (1 - t0')*r
    xt0p = t0p[:, None] * x + (1 - t0p[:, None]) * eps
    x_hat_rev = xt0p + (t1p - t0p)[:, None] * (-u0_hat)
    v_adr = (x - x_hat_rev) / (1 - t1p)[:, None]
    loss_rev = m.adr_per_sample(-u1_hat, v_adr)
    torch.testing.assert_close(x_hat_rev, x1_hat, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(loss_rev, loss, rtol=1e-10, atol=1e-10)


# ---- Input Perturbation (item 19).


def test_input_perturbation_with_gamma_zero_is_the_baseline_loss(build_module):
    base = build_module(spec())
    ip = build_module(spec("loss: {kind: cfm, input_perturbation: {gamma: 0.0}}\n"))
    torch.manual_seed(0)
    model = ip.build_model()
    x, eps, t = batch()
    x, eps, t = x.float(), eps.float(), t.float()
    torch.testing.assert_close(ip.loss_fn(model, x, eps, t)[0], base.loss_fn(model, x, eps, t)[0])


def test_input_perturbation_eps_consistent_target_has_noise_view_eps(build_module):
    m = build_module(
        spec(
            "loss: {kind: cfm, input_perturbation: {gamma: 0.15, target: eps_consistent}}\n",
            "train: {t_max: 0.999}\n",
        )
    )
    x, eps, t = batch()
    torch.manual_seed(0)
    z, target = m.perturbed_input(x, eps, t)
    assert not torch.allclose(z, m.interpolate(x, eps, t))
    # the noise view of a velocity at z (METHODS 3): eps_hat = (alpha*u_hat - d_alpha*z)/kappa,
    # kappa = d_sigma*alpha - d_alpha*sigma
    a, sg, da, ds = path_and_derivatives(m, t[:, None])
    kappa = ds * a - da * sg
    torch.testing.assert_close((a * target - da * z) / kappa, eps, rtol=1e-9, atol=1e-9)
    clean = build_module(spec("loss: {kind: cfm, input_perturbation: {gamma: 0.15}}\n"))
    torch.manual_seed(0)
    z2, target2 = clean.perturbed_input(x, eps, t)
    torch.testing.assert_close(z2, z)
    torch.testing.assert_close(target2, clean.target_velocity(x, eps, t))


# ---- The frequency diagnostic (item 23) and the generated code.


def test_power_frequency_ratio_of_white_noise_is_the_band_count_ratio(build_module):
    m = build_module(
        "version: 1\ndata: {kind: digits}\nmodel: {kind: unet, channels: 8, channel_mult: [1], "
        "num_res_blocks: 1, attention_resolutions: [], head_channels: 8, norm_groups: 4}\n"
        "eval: {kind: fid, frequency: {}}\n"
    )
    h = 32
    noise = torch.randn(256, 3, h, h, generator=torch.Generator().manual_seed(0))
    k = torch.fft.fftfreq(h, d=1.0 / h) / (h / 2)
    low = int(((k[:, None] ** 2 + k[None, :] ** 2).sqrt() <= 0.5).sum())
    expected = low / (h * h - low)
    measured = float(m.power_frequency_ratio(noise, 0.5).mean())
    assert measured == pytest.approx(expected, rel=0.03)
    assert expected == pytest.approx(math.pi * 0.25 / (4 - math.pi * 0.25), rel=0.05)
    # a constant image has all its power at DC (the low band)
    assert float(m.power_frequency_ratio(torch.ones(1, 1, 8, 8), 0.5)[0]) > 1e20


@pytest.mark.parametrize(
    "sets, present, absent",
    [
        ((), ["def anti_drift_target", "def fc_weight",
              "x1_hat = zs + expand_t(t1 - t0, zs) * u0_hat\n"],
         ["u0_hat.detach()", "perturbed_input", "torch.nonzero", "ramp"]),
        (("loss.detach_rollout=true",), ["* u0_hat.detach()"], []),
        (("loss.adr.detach_target=true",), ["adr_per_sample(u1_hat, u_adr.detach())"], []),
        (("loss.adr.form=smooth_l1",), ["smooth_l1_loss"], ["a.norm(dim=1"]),
        (("loss.fc.weight=per_sample",), ["norms = delta.flatten(1).norm(dim=1)"],
         ["magnitude = delta.abs()"]),
        (("loss.fc.keep_fm=true",),
         ["return loss_fm + cfg.fc.beta2 * loss_fc + cfg.adr.beta1 * loss_adr, terms"],
         []),
        (("loss.fc.delta=state",), ["delta = x1_hat.detach() - z1"], ["# pass 3"]),
        (("loss.t1_rule=fixed_step",), ["t1 = (t0 - CONFIG.loss.t1_step).clamp_min(0.0)"],
         ["torch.rand(t0.shape"]),
        (("loss.p_apply=0.5",),
         ["torch.nonzero(torch.rand(x.shape[0], device=x.device) < cfg.p_apply)"], []),
        (("loss.warmup_steps=100",),
         ["step: int, parts=False", "loss_fn(net, x, eps, t, y, step)",
          "cfg.adr.beta1 * ramp * loss_adr", "loss_balance(rt, model, x, eps, t, y, step - 1)"],
         []),
        (("loss.input_perturbation.gamma=0.1",), ["z0, target = perturbed_input(x, eps, t)"], []),
    ],
)  # fmt: skip
def test_each_option_changes_the_generated_code(sets, present, absent, tmp_path):
    from conftest import build_text

    text = build_text(rf_spec(), sets, tmp_path)
    for snippet in present:
        assert snippet in text, snippet
    for snippet in absent:
        assert snippet not in text, snippet


def test_only_the_chosen_components_are_emitted(tmp_path):
    from conftest import build_text

    adr_only = build_text(rf_spec("loss: {kind: reflexflow, adr: {}}\n"), (), tmp_path)
    assert "def fc_weight" not in adr_only
    assert "return loss_fm + cfg.adr.beta1 * loss_adr, terms" in adr_only
    fc_only = build_text(rf_spec("loss: {kind: reflexflow, fc: {}}\n"), (), tmp_path)
    assert (
        "def anti_drift_target" not in fc_only and "return cfg.fc.beta2 * loss_fc, terms" in fc_only
    )
    cfm = build_text(spec(), (), tmp_path)
    assert "rollout" not in cfm and "perturbed_input" not in cfm
    assert "velocity_gap" not in cfm and "power_frequency_ratio" not in cfm


def test_reflexflow_digits_script_trains_and_reports_the_diagnostics(build_module, tmp_path):
    """A few steps of the ablation's ADR + FC script with every code path on (IP, warm-up,
    p_apply < 1): finite loss terms in the log and the diagnostics in the final eval."""
    import json

    m = build_module(
        f"version: 1\nname: rf_smoke\nextends: {SPECS / 'reflexflow_digits_adr_fc.yaml'}\n",
        "train.steps=4", "train.warmup_steps=1", "train.log_every=2", "train.checkpoint_every=4",
        "loss.p_apply=0.5", "loss.warmup_steps=3", "loss.input_perturbation.gamma=0.1",
        "model.channels=8", "model.head_channels=8", "model.norm_groups=4",
        "eval.n_samples=32", "eval.grid=0", "eval.exposure_bias.n_samples=32",
        "eval.velocity_gap.n_samples=8", "eval.frequency.n_samples=8",
    )  # fmt: skip
    assert m.main(["--device", "cpu", "--out", str(tmp_path / "run")]) == 0
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    assert all(math.isfinite(r[k]) for r in train for k in ("loss", "fm", "adr", "fc", "fc_w_mean"))
    final = [r for r in records if r["split"] == "eval"][-1]
    for key in ("fd_digits", "exposure_bias_chain", "velocity_gap_0.5", "pfr_pred_0.9",
                "pfr_bias_0.1", "pfr_error_0.5", "pfr_ref_0.3"):  # fmt: skip
        assert key in final, key


SPECS = __import__("pathlib").Path(__file__).resolve().parent.parent / "specs"


TRAIN = "train: {steps: 90, batch_size: 64, warmup_steps: 1, log_every: 30, checkpoint_every: 90}\n"


@pytest.mark.parametrize(
    "loss",
    [
        "{adr: {form: direction}}",
        "{adr: {form: magnitude}}",
        "{adr: {form: smooth_l1}}",
        "{fc: {weight: affine_abs}}",
        "{fc: {weight: abs, keep_fm: true}}",
        "{fc: {weight: delta_squared, keep_fm: true}}",
        "{fc: {weight: per_sample}}",
        "{fc: {weight: signed_l1}}",
        "{adr: {}, fc: {}}",
    ],
)
def test_every_form_and_weight_trains_from_the_real_initialisation(build_module, tmp_path, loss):
    """From the zero-initialised output layer (so delta = 0 and u1_hat = 0 at step 1), with the
    spec's defaults: the loss and grad_norm stay finite and the FM term falls."""
    import json

    m = build_module(spec(f"loss: {{kind: reflexflow, {loss[1:]}\n", TRAIN), "eval.n_samples=200")
    assert m.main(["--device", "cpu", "--out", str(tmp_path)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["split"] == "train"]
    assert all(math.isfinite(r["loss"]) and math.isfinite(r["grad_norm"]) for r in train), train
    assert train[-1]["fm"] < 0.97 * train[0]["fm"], [r["fm"] for r in train]
    # every log line shows the balance: each term's gradient against FM's, the target's noise
    balance = ["grad_ratio_adr", "adr_nsr"] * ("adr" in loss) + ["grad_ratio_fc"] * ("fc" in loss)
    assert balance and all(math.isfinite(r[k]) and r[k] >= 0 for r in train for k in balance)


class Affine(torch.nn.Module):
    """u(z, t) = z W + t b + c: a network with parameters whose gradients a test can follow."""

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = torch.nn.Parameter(torch.randn(2, 2, generator=g, dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.randn(2, generator=g, dtype=torch.float64))
        self.c = torch.nn.Parameter(torch.randn(2, generator=g, dtype=torch.float64))

    def forward(self, z, t, y=None):
        return z @ self.w + t[:, None] * self.b + self.c


def test_loss_balance_is_each_weighted_terms_gradient_against_the_fm_gradient(build_module):
    """The log's balance metrics against the loss written out from METHODS 8.2 on the rectified
    path (not the script's loss_fn): |grad(beta*L)| / |grad L_FM| and the cosine of the two, the
    ADR target's noise, the median of |u_adr - u0_hat| / |u0_hat| with u_adr - u0_hat = (t0/t1)(u0 -
    u0_hat);
    the global RNG is left as it was."""
    m = build_module(rf_spec("loss: {kind: reflexflow, adr: {beta1: 3.0}, fc: {alpha: 0.5}}\n"))
    model = Affine()
    x, eps, t = batch(n=32)
    x = x + torch.randn(x.shape, generator=torch.Generator().manual_seed(5), dtype=x.dtype)
    rt = m.Runtime(0, 1, torch.device("cpu"), 0)
    torch.manual_seed(7)
    before = torch.get_rng_state()
    out = m.loss_balance(rt, model, x, eps, t, None)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(7)  # the rollout's r: the loss's first draw from the global RNG
    r = torch.rand(t.shape, dtype=t.dtype)
    t1 = torch.minimum(t, (t * (1 - r)).clamp_min(1e-3))[:, None]
    t0 = t[:, None]
    z0, u0 = (1 - t0) * x + t0 * eps, eps - x
    u0_hat = model(z0, t)
    x1_hat = z0 + (t1 - t0) * u0_hat
    u_adr = (x1_hat - x) / t1
    u1_hat = model(x1_hat, t1[:, 0])
    unit = u_adr / u_adr.norm(dim=1, keepdim=True)  # the direction loss, with its norm floor:
    floor = m.CONFIG.loss.adr.norm_eps * u_adr.norm(dim=1, keepdim=True)
    a = u1_hat / torch.maximum(u1_hat.norm(dim=1, keepdim=True), floor)
    loss_adr = 3.0 * (a - unit).square().sum(dim=1).mean()
    with torch.no_grad():
        delta = u1_hat - model((1 - t1) * x + t1 * eps, t1[:, 0])
        w = 1 + 0.5 * delta.abs() / (delta.abs().mean(dim=1, keepdim=True) + 1e-8)
    loss_fm = (u0_hat - u0).square().mean()
    loss_fc = (w * (u0_hat - u0).square()).mean()
    params = list(model.parameters())

    def grad(term):
        grads = torch.autograd.grad(term, params, retain_graph=True)
        return torch.cat([g.flatten() for g in grads])

    g_fm, g_adr, g_fc = grad(loss_fm), grad(loss_adr), grad(loss_fc)
    cosine = torch.nn.functional.cosine_similarity
    for name, g in (("adr", g_adr), ("fc", g_fc)):
        assert out[f"grad_ratio_{name}"] == pytest.approx(float(g.norm() / g_fm.norm()), rel=1e-5)
        assert out[f"grad_cos_{name}"] == pytest.approx(float(cosine(g, g_fm, dim=0)), abs=1e-5)
    noise = (t0 / t1) * (u0 - u0_hat)  # the median over samples of the per-sample ratio
    nsr = (noise.norm(dim=1) / u0_hat.norm(dim=1)).median().detach()
    assert out["adr_nsr"] == pytest.approx(float(nsr), rel=1e-5)
    assert out["grad_ratio_adr"] != pytest.approx(out["grad_ratio_fc"], rel=0.05)  # not degenerate


def test_the_direction_loss_is_safe_at_a_zero_output(build_module):
    """Step 1 of a fresh network: u1_hat = 0. The relative norm floor keeps the ADR gradient
    bounded (an absolute 1e-8 floor gave a gradient norm of about 1e10 here) and pointing the
    prediction toward the target's direction."""
    m = build_module(spec("loss: {kind: reflexflow, adr: {}}\n"))
    u_adr = torch.randn(8, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    u1 = torch.zeros_like(u_adr, requires_grad=True)
    loss = m.adr_per_sample(u1, u_adr)
    torch.testing.assert_close(loss, torch.ones(8, dtype=torch.float32))  # |0 - unit|^2 = 1
    (grad,) = torch.autograd.grad(loss.sum(), u1)
    floor = m.CONFIG.loss.adr.norm_eps * u_adr.norm(dim=1, keepdim=True)
    unit = u_adr / u_adr.norm(dim=1, keepdim=True)
    torch.testing.assert_close(grad, -2.0 * unit / floor, rtol=1e-5, atol=1e-3)
    assert float(grad.norm()) < 1e5  # the absolute 1e-8 floor: about 1e9 here
    # above the floor it is exactly 2 - 2 cos
    u1 = torch.randn(8, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    cos = torch.nn.functional.cosine_similarity(u1, u_adr, dim=1)
    big = u1.norm(dim=1) > floor.squeeze(1)
    torch.testing.assert_close(
        m.adr_per_sample(u1, u_adr)[big], (2 - 2 * cos)[big].float(), rtol=1e-5, atol=1e-6
    )


def test_a_weight_that_vanishes_without_bias_needs_keep_fm(tmp_path):
    from specc.pipeline import check_spec

    path = tmp_path / "spec.yaml"
    for weight in ("abs", "delta_squared"):
        path.write_text(spec(f"loss: {{kind: reflexflow, fc: {{weight: {weight}}}}}\n"))
        errors = [d.format() for d in check_spec(path).diagnostics if d.is_error]
        assert len(errors) == 1 and "$.loss.fc.weight" in errors[0], errors
        assert "keep_fm: true" in errors[0] and "nothing trains" in errors[0]
        path.write_text(
            spec(f"loss: {{kind: reflexflow, fc: {{weight: {weight}, keep_fm: true}}}}\n")
        )
        assert not [d for d in check_spec(path).diagnostics if d.is_error]
