"""Execution of the generated toy script on CPU: it learns, resumes exactly (also after a kill),
writes loadable checkpoints atomically, and says what to do when something is missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "specs" / "toy_moons.yaml"
SETS = (
    "train.steps=300",
    "train.warmup_steps=20",
    "train.log_every=50",
    "train.checkpoint_every=100",
    "eval.n_samples=600",
    "eval.at_start=true",
)


@pytest.fixture(scope="module")
def toy(build_module):
    return build_module(SPEC, *SETS)


@pytest.fixture(scope="module")
def full_run(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    assert toy.main(["--device", "cpu", "--out", str(out)]) == 0
    return out


def read_metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_w2_improves_clearly_over_the_untrained_model(full_run: Path):
    evals = [r for r in read_metrics(full_run) if r["split"] == "eval"]
    before, after = evals[0], evals[-1]
    assert before["step"] == 0 and after["step"] == 300
    assert after["w2"] < 0.5 * before["w2"], (before, after)
    assert after["nfe"] == 50


def test_run_directory_contents(toy, full_run: Path):
    # spec.yaml is the resolved spec, which specc reads back as the same spec (same sha256)
    from specc.load import load_text

    spec = load_text((full_run / "spec.yaml").read_text(), "spec.yaml").tree
    assert spec == toy.SPEC and resolved_sha256(spec) == toy.SPEC_SHA256
    env = json.loads((full_run / "env.json").read_text())
    assert env["spec_sha256"] == toy.SPEC_SHA256 and env["seed"] == 0
    assert (full_run / "samples_0000300.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ckpts = sorted((full_run / "checkpoints").glob("step_*.pt"))
    assert [p.name for p in ckpts] == ["step_0000100.pt", "step_0000200.pt", "step_0000300.pt"]
    state = torch.load(ckpts[-1], map_location="cpu", weights_only=True)
    assert state["step"] == 300 and state["spec_sha256"] == toy.SPEC_SHA256
    assert state["spec"] == toy.SPEC
    assert not list((full_run / "checkpoints").glob(".*tmp"))


def resolved_sha256(spec: dict) -> str:
    from specc.resolve import spec_sha256

    return spec_sha256(spec)


def test_resume_equals_an_uninterrupted_run(toy, full_run: Path, tmp_path: Path):
    assert toy.main(["--device", "cpu", "--out", str(tmp_path), "--max-steps", "150"]) == 0
    assert toy.main(["--device", "cpu", "--out", str(tmp_path), "--resume", "latest"]) == 0
    a = torch.load(full_run / "checkpoints" / "step_0000300.pt", weights_only=True)
    b = torch.load(tmp_path / "checkpoints" / "step_0000300.pt", weights_only=True)
    for key in ("model", "ema"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), (key, name)
    for k, state in a["optimizer"]["state"].items():
        for name, tensor in state.items():
            assert torch.equal(tensor, b["optimizer"]["state"][k][name])

    def losses(out):
        return [(r["step"], r["loss"]) for r in read_metrics(out) if r["split"] == "train"]

    assert losses(full_run) == losses(tmp_path)
    w2 = [r["w2"] for r in read_metrics(tmp_path) if r["split"] == "eval" and r["step"] == 300]
    assert w2 == [r["w2"] for r in read_metrics(full_run) if r["step"] == 300 and "w2" in r]


def test_sample_and_eval_commands(toy, full_run: Path, capsys):
    assert toy.main(["sample", "--device", "cpu", "--out", str(full_run), "--seeds", "3-5"]) == 0
    saved = torch.load(full_run / "samples" / "rank0.pt", weights_only=True)
    assert saved["seeds"] == [3, 4, 5] and saved["samples"].shape == (3, 2)
    # a sample depends only on its seed (the noise exactly; the result up to float rounding,
    # since a batch of another size takes other matmul kernels)
    assert toy.main(["sample", "--device", "cpu", "--out", str(full_run), "--seeds", "0-9"]) == 0
    again = torch.load(full_run / "samples" / "rank0.pt", weights_only=True)
    torch.testing.assert_close(again["samples"][3:6], saved["samples"], rtol=0, atol=1e-5)
    assert (full_run / "samples" / "rank0.png").read_bytes()[:4] == b"\x89PNG"
    assert toy.main(["eval", "--device", "cpu", "--out", str(full_run)]) == 0
    result = json.loads((full_run / "eval_0000300.json").read_text())
    last = [r for r in read_metrics(full_run) if r["split"] == "eval"][-1]
    assert result["w2"] == pytest.approx(last["w2"], rel=1e-12)


def test_atomic_checkpoint_write_survives_a_crash(toy, tmp_path: Path, monkeypatch):
    path = tmp_path / "checkpoints" / "step_0000001.pt"
    toy.save_checkpoint(path, {"format": 1, "x": torch.ones(3)})

    def crash(obj, f, *a, **k):
        f.write(b"partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(toy.torch, "save", crash)
    with pytest.raises(OSError):
        toy.save_checkpoint(path, {"format": 1, "x": torch.zeros(3)})
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.ones(3))
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_user_errors_say_what_to_do(toy, tmp_path: Path):
    with pytest.raises(SystemExit, match="no checkpoint latest in .*train first"):
        toy.main(["--device", "cpu", "--out", str(tmp_path), "--resume", "latest"])
    bad = tmp_path / "checkpoints" / "step_0000005.pt"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit, match="cannot read checkpoint .*Delete it to resume"):
        toy.main(["--device", "cpu", "--out", str(tmp_path), "--resume", "latest"])
    with pytest.raises(SystemExit, match="--device gpu0: not a device"):
        toy.main(["--device", "gpu0", "--out", str(tmp_path)])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_requested_without_cuda_says_so(toy, tmp_path: Path):
    with pytest.raises(SystemExit, match="CUDA is not available"):
        toy.main(["--device", "cuda", "--out", str(tmp_path)])


def run_script(args: list[str], cwd: Path, prelude: str = "") -> subprocess.CompletedProcess:
    code = (
        f"import sys, runpy; {prelude}; sys.argv = {['toy.py', *args]!r}; "
        f"runpy.run_path({str(REPO / 'generated' / 'toy_moons.py')!r}, run_name='__main__')"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_missing_package_names_the_pip_line(tmp_path: Path):
    proc = run_script(
        ["--device", "cpu", "--max-steps", "1", "--out", str(tmp_path)],
        tmp_path,
        prelude="sys.modules['ot'] = None",
    )
    assert proc.returncode == 1
    assert "error: eval.kind 'w2' needs the POT package: pip install POT" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_subprocess_smoke_and_usage_errors(tmp_path: Path):
    script = REPO / "generated" / "toy_moons.py"
    ok = subprocess.run(
        [
            sys.executable,
            str(script),
            "--device",
            "cpu",
            "--max-steps",
            "2",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [sys.executable, str(script), "--max-steps", "-3"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--max-steps must be an integer in [0, 2**63)" in bad.stderr


def test_killed_run_resumes_to_the_same_weights(tmp_path: Path):
    """SIGKILL mid-run (possibly mid-checkpoint), then --resume latest: same final weights as an
    uninterrupted run, and no torn checkpoint is ever loaded."""
    from conftest import build_text

    sets = (
        "train.steps=200",
        "train.checkpoint_every=10",
        "train.keep_checkpoints=2",
        "train.log_every=200",
        "eval.n_samples=50",
        "eval.plot=false",
        "eval.at_start=false",
        "model.hidden=32",
    )
    script = tmp_path / "toy.py"
    script.write_text(build_text(SPEC, sets, tmp_path))
    # one intra-op thread: a tiny model gains nothing from more, and spinning OpenMP threads slow
    # it down many times over on a loaded machine
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ref = subprocess.run(
        [sys.executable, str(script), "--device", "cpu", "--out", str(tmp_path / "ref")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, str(script), "--device", "cpu", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list((out / "checkpoints").glob("step_*.pt")):
        time.sleep(0.02)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run(
        [sys.executable, str(script), "--device", "cpu", "--out", str(out), "--resume", "latest"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert resumed.returncode == 0, resumed.stderr
    a = torch.load(tmp_path / "ref" / "checkpoints" / "step_0000200.pt", weights_only=True)
    b = torch.load(out / "checkpoints" / "step_0000200.pt", weights_only=True)
    for name, tensor in a["ema"].items():
        assert torch.equal(tensor, b["ema"][name]), name
