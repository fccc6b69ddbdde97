"""What a user does wrong, or what the machine does to a run, never loses it, hangs or prints a
traceback (issue 13): one run per folder, `--resume auto`, a checkpoint of another network, a
full disk mid-checkpoint, a kill mid-write, messages that name flags valid where they are given."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import build_text

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "specs" / "toy_moons.yaml"
SETS = (
    "train.steps=40",
    "train.warmup_steps=5",
    "train.log_every=10",
    "train.checkpoint_every=20",
    "eval.n_samples=100",
    "eval.at_start=false",
    "eval.plot=false",
)


@pytest.fixture(scope="module")
def toy(build_module):
    return build_module(SPEC, *SETS)


@pytest.fixture(scope="module")
def wider(build_module):
    """The same spec with another network size: its checkpoints do not fit `toy`."""
    return build_module(SPEC, *SETS, "model.hidden=64")


def train(module, out: Path, *args: str) -> int:
    return module.main(["--device", "cpu", "--out", str(out), *args])


def log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_a_fresh_run_refuses_a_folder_that_holds_a_run(toy, tmp_path):
    assert train(toy, tmp_path, "--max-steps", "20") == 0
    before = (tmp_path / "metrics.jsonl").read_text()
    with pytest.raises(
        SystemExit, match=r"holds a run .*--resume latest \(or auto\).*another --out"
    ):
        train(toy, tmp_path)
    assert (tmp_path / "metrics.jsonl").read_text() == before  # nothing of the old run is lost
    assert [p.name for p in sorted((tmp_path / "checkpoints").iterdir())] == ["step_0000020.pt"]


def test_resume_auto_starts_or_continues_and_reads_as_one_run(toy, tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert train(toy, whole) == 0
    assert train(toy, parts, "--resume", "auto", "--max-steps", "20") == 0  # nothing yet: starts
    (parts / "checkpoints" / ".step_0000040.pt.123.tmp").write_bytes(b"torn")  # a killed write
    assert train(toy, parts, "--resume", "auto") == 0  # continues from step 20
    timing = ("steps_per_s", "samples_per_s", "eta_s", "seconds")

    def steady(out: Path) -> list[dict]:  # the log without timings and --max-steps' own eval
        rows = [{k: v for k, v in r.items() if k not in timing} for r in log(out)]
        return [r for r in rows if r["split"] == "train" or r["step"] == 40]

    assert steady(parts) == steady(whole)
    assert not list((parts / "checkpoints").glob(".*.tmp"))
    finished = (parts / "metrics.jsonl").read_text()
    assert train(toy, parts, "--resume", "auto") == 0  # a finished run: nothing more, no eval
    assert (parts / "metrics.jsonl").read_text() == finished


def test_a_checkpoint_of_another_network_is_a_message(toy, wider, tmp_path, capsys):
    other = tmp_path / "other"
    assert train(wider, other, "--max-steps", "20") == 0
    ckpt = str(other / "checkpoints" / "step_0000020.pt")
    with pytest.raises(
        SystemExit, match=r"holds another network than this spec's: .*size mismatch"
    ):
        train(toy, tmp_path / "mine", "--resume", ckpt)
    for command in ("eval", "sample"):
        with pytest.raises(SystemExit, match="holds another network"):
            toy.main([command, "--device", "cpu", "--out", str(other), "--checkpoint", ckpt])
    # the warning names what differs, and only where the network may not fit
    assert "written under other model than this spec's" in capsys.readouterr().err


def test_another_specs_checkpoint_warns_only_when_its_network_differs(
    build_module, toy, tmp_path, capsys
):
    run = tmp_path / "run"
    assert train(toy, run, "--max-steps", "20") == 0
    capsys.readouterr()
    fewer_steps = build_module(SPEC, *SETS, "sampler.steps=10")  # the same network
    assert fewer_steps.main(["eval", "--device", "cpu", "--out", str(run)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_missing_checkpoints_name_no_flag_of_another_command(toy, tmp_path):
    for command in ("eval", "sample"):
        with pytest.raises(SystemExit) as info:
            toy.main([command, "--device", "cpu", "--out", str(tmp_path)])
        assert "no checkpoint latest" in str(info.value) and "--resume" not in str(info.value)


def _no_bigger_files(limit: int):
    def apply() -> None:  # a full disk: writes past `limit` bytes fail with EFBIG, not a signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_while_checkpointing_is_a_message_and_resumes(tmp_path):
    script = tmp_path / "toy.py"
    script.write_text(build_text(SPEC, SETS, tmp_path))
    out = tmp_path / "run"
    args = [sys.executable, str(script), "--device", "cpu", "--out", str(out)]
    full = subprocess.run(
        args, capture_output=True, text=True, timeout=300, preexec_fn=_no_bigger_files(20_000)
    )
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr and "File too large" in full.stderr
    assert "--resume auto" in full.stderr
    assert not list((out / "checkpoints").glob("*"))  # no torn checkpoint, no temporary file
    again = subprocess.run([*args, "--resume", "auto"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert torch.load(out / "checkpoints" / "step_0000040.pt", weights_only=True)["step"] == 40


def test_ctrl_c_is_a_message_and_the_run_goes_on(tmp_path):
    """Ctrl-C (SIGINT to the process group: the script and its data worker) mid-training: exit 1
    with a message naming the way on, no traceback from either process, and `--resume auto`
    continues from the newest checkpoint."""
    import os
    import time

    script = tmp_path / "toy.py"
    script.write_text(build_text(SPEC, (*SETS, "train.steps=100000"), tmp_path))
    out = tmp_path / "run"
    args = [sys.executable, str(script), "--device", "cpu", "--out", str(out)]
    # as from a terminal: a job started in the background of a non-interactive shell (as CI may
    # start this suite) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list((out / "checkpoints").glob("step_*.pt")) and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    assert "interrupted" in stderr and "--resume auto" in stderr
    assert "Traceback" not in stderr + stdout, stderr
    again = subprocess.run([*args, "--resume", "auto", "--max-steps", "60"], capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "resumed from" in again.stdout
