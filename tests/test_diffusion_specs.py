"""The blog-point specs run end to end (a few steps each), and toy_moons_ddim samples what
toy_moons samples from the same weights (DDIM = Euler on the rectified path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
SPECS = sorted(p.stem for p in (REPO / "specs").glob("toy_moons_*.yaml"))
SAMPLING_ONLY = ("toy_moons_churn", "toy_moons_ddim", "toy_moons_ddpm")  # toy_moons' training
SMOKE = (
    "train.steps=20",
    "train.log_every=10",
    "eval.n_samples=200",
    "eval.plot=false",
    "eval.at_start=false",
)


@pytest.mark.parametrize("name", [s for s in SPECS if s not in SAMPLING_ONLY])
def test_spec_trains_and_evaluates(build_module, tmp_path, name):
    m = build_module(REPO / "specs" / f"{name}.yaml", *SMOKE)
    assert m.main(["--device", "cpu", "--out", str(tmp_path)]) == 0
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if r["split"] == "train"]
    evals = [r for r in records if r["split"] == "eval"]
    assert losses and all(torch.isfinite(torch.tensor(losses)))
    assert evals[-1]["step"] == 20 and evals[-1]["nfe"] > 0
    assert torch.isfinite(torch.tensor(evals[-1]["w2"]))


@pytest.mark.parametrize("name", SAMPLING_ONLY)
def test_sampler_spec_evaluates(build_module, name):
    m = build_module(REPO / "specs" / f"{name}.yaml", *SMOKE)
    rt = m.Runtime(rank=0, world_size=1, device=torch.device("cpu"), seed=0)
    metrics = m.evaluate(m.build_model(), rt, 0, None)
    assert metrics["nfe"] > 0 and torch.isfinite(torch.tensor(metrics["w2"]))


def test_ddim_spec_samples_what_the_euler_spec_samples(build_module):
    euler = build_module(REPO / "specs" / "toy_moons.yaml")
    ddim = build_module(REPO / "specs" / "toy_moons_ddim.yaml")
    torch.manual_seed(0)
    model = euler.build_model()
    for p in model.parameters():  # the output layer starts at zero: make the network nontrivial
        torch.nn.init.normal_(p, std=0.3)
    eps = torch.randn(500, 2, generator=torch.Generator().manual_seed(1))
    a, nfe_a = euler.sample(model, eps)
    b, nfe_b = ddim.sample(model, eps)
    assert nfe_a == nfe_b == 50
    torch.testing.assert_close(a, b, rtol=0, atol=1e-4)
