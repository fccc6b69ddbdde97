"""The digits spec executed on CPU: it trains and evaluates (digits-FD, labelled as such), resumes
exactly (dropout and flips included), samples one PNG per seed, accumulates gradients exactly, and
a 2-process torchrun (gloo) follows the single-process loss trajectory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
# cheap evaluation for the tests that only compare training: W2 to training digits, no classifier
W2_EVAL = ("eval.kind=w2", "eval.plot=false", "eval.n_samples=50")
SPEC = REPO / "specs" / "digits.yaml"
# no "scaler" here: the CPU trains in float32
# the weights, the optimizer, the run's seed and spec, and its log (the lines so far and the sums
# since the last line), so that a resumed run also logs as one uninterrupted run
CHECKPOINT_KEYS = {"format", "step", "seed", "spec", "spec_sha256", "model", "ema", "optimizer"}
CHECKPOINT_KEYS |= {"log", "log_sums", "log_count"}
TINY = (
    "model.channels=16",
    "model.norm_groups=4",
    "model.head_channels=16",
    "model.dropout=0.1",
    "data.hflip=true",
    "train.steps=24",
    "train.batch_size=32",
    "train.warmup_steps=4",
    "train.log_every=4",
    "train.checkpoint_every=12",
    "sampler.steps=4",
    "eval.n_samples=200",
    "eval.batch_size=100",
    "eval.grid=16",
    "eval.at_start=true",
)


@pytest.fixture(scope="module")
def digits(build_module):
    return build_module(SPEC, *TINY)


@pytest.fixture(scope="module")
def full_run(digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    assert digits.main(["--device", "cpu", "--out", str(out)]) == 0
    return out


def records(out: Path, split: str) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == split]


def test_trains_and_reports_digits_fd(digits, full_run: Path):
    train = records(full_run, "train")
    assert [r["step"] for r in train] == [4, 8, 12, 16, 20, 24]
    assert train[-1]["loss"] < 0.8 * train[0]["loss"]
    assert all(r["images_per_s"] > 0 and "eta_s" in r for r in train)
    evals = records(full_run, "eval")
    assert [r["step"] for r in evals] == [0, 24]
    for r in evals:
        assert "fid" not in r and r["fd_features"].startswith("digits-FD, not Inception FID")
        assert r["n_samples"] == 200 and r["nfe"] == 4
    assert evals[1]["fd_digits"] < evals[0]["fd_digits"]  # noise (zero velocity) vs trained
    png = full_run / "samples_0000024.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    state = torch.load(full_run / "checkpoints" / "step_0000024.pt", weights_only=True)
    # the step is the data position and the seed draws everything: no loader or RNG state saved
    assert set(state) == CHECKPOINT_KEYS
    assert state["format"] == 1 and state["step"] == 24 and state["seed"] == 0
    assert state["spec"] == digits.SPEC and state["spec_sha256"] == digits.SPEC_SHA256
    assert (full_run / "digits_classifier.pt").is_file()


def test_resume_equals_an_uninterrupted_run(digits, full_run: Path, tmp_path: Path):
    assert digits.main(["--device", "cpu", "--out", str(tmp_path), "--max-steps", "12"]) == 0
    assert digits.main(["--device", "cpu", "--out", str(tmp_path), "--resume", "latest"]) == 0
    a = torch.load(full_run / "checkpoints" / "step_0000024.pt", weights_only=True)
    b = torch.load(tmp_path / "checkpoints" / "step_0000024.pt", weights_only=True)
    for key in ("model", "ema"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), (key, name)
    for k, state in a["optimizer"]["state"].items():
        for name, tensor in state.items():
            assert torch.equal(tensor, b["optimizer"]["state"][k][name])
    assert [r["loss"] for r in records(full_run, "train")] == [
        r["loss"] for r in records(tmp_path, "train")
    ]
    # resuming a finished run does nothing: no more steps, no second final evaluation
    log = (tmp_path / "metrics.jsonl").read_text()
    assert digits.main(["--device", "cpu", "--out", str(tmp_path), "--resume", "latest"]) == 0
    assert (tmp_path / "metrics.jsonl").read_text() == log


def test_sample_writes_one_png_per_seed(digits, full_run: Path):
    from PIL import Image

    args = ["sample", "--device", "cpu", "--out", str(full_run)]
    assert digits.main([*args, "--seeds", "3-5"]) == 0

    def read(seed: int) -> torch.Tensor:
        with Image.open(full_run / "samples" / f"{seed:06d}.png") as im:
            assert im.size == (8, 8) and im.mode == "L"
            return torch.from_numpy(np.asarray(im).astype(np.int64))

    first = {s: read(s) for s in (3, 4, 5)}
    assert digits.main([*args, "--seeds", "0-9"]) == 0  # another batch: same image per seed
    for s in (3, 4, 5):
        assert (read(s) - first[s]).abs().max() <= 1


def test_grad_accumulation_gives_the_same_step(build_module, tmp_path: Path):
    sets = [s for s in TINY if not s.startswith(("model.dropout", "eval."))]
    sets += ["model.dropout=0.0", "train.steps=2", "train.log_every=1", *W2_EVAL]
    one = build_module(SPEC, *sets)
    two = build_module(SPEC, *sets, "train.grad_accum=4")
    for mod, out in ((one, tmp_path / "a"), (two, tmp_path / "b")):
        assert mod.main(["--device", "cpu", "--out", str(out)]) == 0
    a = torch.load(tmp_path / "a" / "checkpoints" / "step_0000002.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "checkpoints" / "step_0000002.pt", weights_only=True)
    for name, tensor in a["model"].items():
        torch.testing.assert_close(b["model"][name], tensor, rtol=1e-4, atol=1e-6)
    la = [r["loss"] for r in records(tmp_path / "a", "train")]
    lb = [r["loss"] for r in records(tmp_path / "b", "train")]
    assert la == pytest.approx(lb, rel=1e-5)


@pytest.mark.slow
def test_torchrun_two_ranks_follow_the_single_process_losses(tmp_path: Path):
    from conftest import build_text

    sets = [s for s in TINY if not s.startswith(("eval.", "model.dropout", "train."))]
    sets += [
        "model.dropout=0.0",
        *W2_EVAL,
        "train.steps=40",
        "train.batch_size=64",
        "train.warmup_steps=0",
        "train.log_every=10",
        "train.checkpoint_every=40",
    ]
    script = tmp_path / "digits.py"
    script.write_text(build_text(SPEC, tuple(sets), tmp_path))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run(
        [sys.executable, str(script), "--device", "cpu", "--out", str(tmp_path / "one")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert single.returncode == 0, single.stderr
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(script),
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "two"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert ddp.returncode == 0, ddp.stdout[-2000:] + ddp.stderr[-4000:]
    assert "world_size=2" in ddp.stdout
    one = [r["loss"] for r in records(tmp_path / "one", "train")]
    two = [r["loss"] for r in records(tmp_path / "two", "train")]
    assert len(one) == len(two) == 4
    # the same global data at every step; noise and times are drawn per rank, so the losses agree
    # statistically (each is a mean over 640 examples), not bit for bit
    for a, b in zip(one, two, strict=True):
        assert abs(a - b) < 0.1 * a, (one, two)
    assert two[-1] < 0.8 * two[0]
