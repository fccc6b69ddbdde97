"""The flow diagnostics against closed forms (straightness of the exact Gaussian flow, a straight
field's zero straightness and few-step error), the transport-cost diagnostic, and reflow end to
end: `sample --pairs` writes the teacher's ODE endpoints, a reflow spec trains on exactly those
pairs, and a missing pair file says which command makes it."""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from analytic import GaussianVelocity
from scipy.integrate import quad
from torch import nn

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "specs"
TINY = (
    "train.steps=30",
    "train.warmup_steps=5",
    "train.log_every=10",
    "train.checkpoint_every=30",
    "eval.n_samples=64",
    "eval.few_step=[1,2]",
    "eval.plot=false",
    "model.hidden=32",
    "eval.transport_cost=true",
    "eval.straightness=true",
)


@pytest.fixture(scope="module")
def m(build_module):
    return build_module(SPECS / "couple_independent.yaml", *TINY)


def cpu_runtime(module):
    return module.Runtime(0, 1, torch.device("cpu"), 0)


def with_config(monkeypatch, module, section: str, **options) -> None:
    """Run `module` with other options in one CONFIG section (CONFIG is read at call time)."""
    part = SimpleNamespace(**{**vars(getattr(module.CONFIG, section)), **options})
    monkeypatch.setattr(module, "CONFIG", SimpleNamespace(**{**vars(module.CONFIG), section: part}))


def test_straightness_of_the_exact_gaussian_flow_matches_its_closed_form(m):
    """x ~ N(mu, s^2 I): the flow keeps xi = (z - alpha mu)/sqrt(v_t) fixed, so
    z_t = (1 - t) mu + s_t xi with s_t = sqrt((1 - t)^2 s^2 + t^2), and
    S = |xi|^2 * (int_0^1 s_t'^2 dt - (1 - s)^2) exactly (s_1 - s_0 = 1 - s)."""
    mu, s = 1.5, 0.3
    model = GaussianVelocity(m, mu, s)
    eps = torch.randn(16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    _, straightness, speed2 = m.euler_trajectory(model, eps, 400)

    def ds(t: float) -> float:
        return (t - (1 - t) * s * s) / math.sqrt((1 - t) ** 2 * s * s + t * t)

    integral = quad(lambda t: ds(t) ** 2, 0, 1, limit=200)[0] - (1 - s) ** 2
    ratio = straightness / eps.square().sum(dim=1)
    torch.testing.assert_close(ratio, torch.full_like(ratio, integral), rtol=1e-2, atol=0)
    assert integral > 0.1  # the independent-coupling flow of this Gaussian is far from straight
    # u_bar = z_1 - z_0 = -mu + (1 - s) xi
    expected = (-mu + (1 - s) * eps).square().sum(dim=1)
    torch.testing.assert_close(speed2, expected, rtol=1e-2, atol=0)  # Euler endpoint, N = 400


class StraightField(nn.Module):
    """The OT (monotone) map between N(mu, s^2 I) and N(0, I) moved at constant speed:
    z_t = (1 - t)(mu + s xi) + t xi, u = -mu + (1 - s) xi, xi = (z - (1 - t) mu)/((1 - t) s + t)."""

    def __init__(self, mu: float, s: float):
        super().__init__()
        self.mu, self.s = mu, s

    def forward(self, z, t, y=None):
        tt = t[:, None].to(z.dtype)
        xi = (z - (1 - tt) * self.mu) / ((1 - tt) * self.s + tt)
        return -self.mu + (1 - self.s) * xi


def test_a_straight_field_has_zero_straightness_and_no_few_step_error(m, monkeypatch):
    model = StraightField(0.5, 0.3)
    eps = torch.randn(64, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    end, straightness, _ = m.euler_trajectory(model, eps, 50)
    assert float(straightness.abs().max()) < 1e-12
    torch.testing.assert_close(end, 0.5 + 0.3 * eps, rtol=0, atol=1e-12)
    metrics = m.flow_diagnostics(model, cpu_runtime(m))
    assert set(metrics) == {
        "straightness",
        "straightness_rel",
        "w2_euler_1",
        "gap_euler_1",
        "w2_euler_2",
        "gap_euler_2",
    }
    assert abs(metrics["straightness"]) < 1e-6 and metrics["gap_euler_1"] < 1e-9  # float32 noise
    assert metrics["w2_euler_1"] == pytest.approx(metrics["w2_euler_2"], abs=1e-6)
    # the exact Gaussian flow is curved: one step misses its own ODE's endpoint
    curved = m.flow_diagnostics(GaussianVelocity(m, 0.5, 0.3), cpu_runtime(m))
    assert curved["gap_euler_1"] > 0.05 and curved["gap_euler_2"] < curved["gap_euler_1"]
    assert curved["straightness_rel"] > 0.05


def test_pair_cost_diagnostic(m, build_module):
    rt = cpu_runtime(m)
    independent = m.pair_cost_diagnostics(None, rt)
    x, eps, _ = m.coupled_batch(rt, 0, m.CONFIG.train.batch_size)
    cost = (x[:, None, :] - eps[None, :, :]).double().square().sum(dim=2)
    assert independent["pair_cost_independent"] == pytest.approx(float(cost.mean()), rel=1e-6)
    assert independent["pair_cost"] == pytest.approx(float(cost.diagonal().mean()), rel=1e-6)
    assert independent["pair_cost_ot"] < 0.5 * independent["pair_cost"]
    exact = build_module(SPECS / "couple_exact_ot.yaml", *TINY)
    coupled = exact.pair_cost_diagnostics(None, cpu_runtime(exact))
    assert coupled["pair_cost"] == pytest.approx(coupled["pair_cost_ot"], rel=1e-9)
    assert coupled["pair_cost_independent"] == pytest.approx(
        independent["pair_cost_independent"], rel=1e-6
    )  # the same points, only paired differently


def test_reflow_trains_on_the_teachers_ode_pairs(m, build_module, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    teacher_out = tmp_path / "runs" / "couple_independent"
    assert m.main(["--device", "cpu", "--out", str(teacher_out)]) == 0
    student = build_module(SPECS / "couple_reflow.yaml", *TINY)
    monkeypatch.setattr(student, "_PAIRS", [])  # the pair file is read once per process
    pairs = "runs/couple_independent/pairs.pt"  # the student's coupling.pairs, under tmp_path
    assert student.CONFIG.coupling.pairs == pairs
    with pytest.raises(
        SystemExit,
        match=re.escape(
            f"couple_independent.py sample --out runs/couple_independent --pairs {pairs}"
        ),
    ):
        student.main(["--device", "cpu", "--out", str(tmp_path / "student"), "--max-steps", "1"])
    args = ["sample", "--device", "cpu", "--out", str(teacher_out), "--seeds", "0-299"]
    assert m.main([*args, "--steps", "7", "--pairs", pairs]) == 0
    assert f"wrote 300 pairs (7 NFE each) to {pairs}" in capsys.readouterr().out
    state = torch.load(teacher_out / "pairs.pt", weights_only=True)
    assert set(state) == {"seeds", "eps", "x_hat", "step", "nfe", "spec", "spec_sha256"}
    assert state["spec"]["name"] == "couple_independent" and state["nfe"] == 7
    assert state["spec"] == m.SPEC and state["spec_sha256"] == m.SPEC_SHA256
    assert state["seeds"] == list(range(300)) and state["step"] == 30
    ema, step = m.load_ema_model(cpu_runtime(m), teacher_out, "latest")
    assert step == 30
    # sample's noise for seed s: torch.randn(DATA_SHAPE) from a generator seeded with s
    noise = torch.stack(
        [torch.randn(2, generator=torch.Generator().manual_seed(s)) for s in range(300)]
    )
    assert torch.equal(state["eps"], noise)
    endpoint, _ = m.sample(ema, noise[:50], 7)
    torch.testing.assert_close(state["x_hat"][:50], endpoint, rtol=0, atol=1e-5)
    # the student's batches are pairs of the file, as written
    x, eps, y = student.coupled_batch(cpu_runtime(student), 3, 40)
    assert y is None and x.device.type == "cpu"
    home = [int((state["eps"] == row).all(dim=1).nonzero()[0]) for row in eps]
    assert torch.equal(x, state["x_hat"][home])
    assert f"reflow: 300 pairs from {pairs}" in capsys.readouterr().out
    out = tmp_path / "student"
    assert student.main(["--device", "cpu", "--out", str(out)]) == 0
    # the student starts from the teacher's EMA weights (train.init_from names the teacher's run)
    fresh = student.build_model()
    student.init_from_checkpoint(fresh)
    for name, tensor in ema.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], tensor), name
    with_config(monkeypatch, student, "model", hidden=7)
    with pytest.raises(SystemExit, match="holds another network than this spec.s: .*size mismatch"):
        student.init_from_checkpoint(student.build_model())
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    # a pair file of another shape is refused with the reason
    torch.save({**state, "x_hat": torch.zeros(300, 3), "eps": torch.zeros(300, 3)}, "bad.pt")
    with_config(monkeypatch, student, "coupling", pairs="bad.pt")
    monkeypatch.setattr(student, "_PAIRS", [])
    with pytest.raises(SystemExit, match=r"pairs of shape \(3,\), not \(2,\)"):
        student.load_pairs()
