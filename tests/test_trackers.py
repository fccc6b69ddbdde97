"""train.log_to: TensorBoard beside metrics.jsonl, through a recording stand-in for
torch.utils.tensorboard (the real package is optional); a missing package is a message."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SETS = (
    "train.steps=20",
    "train.warmup_steps=2",
    "train.log_every=5",
    "train.checkpoint_every=10",
    "eval.n_samples=64",
    "eval.at_start=true",
    "train.log_to=[tensorboard]",
)


class Recorder:
    """SummaryWriter's calls the script makes, kept per log directory."""

    runs: dict[str, list] = {}

    def __init__(self, log_dir, purge_step=None):
        self.purge_step, self.scalars, self.images = purge_step, [], []
        Recorder.runs.setdefault(str(log_dir), []).append(self)

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def add_image(self, tag, array, step, dataformats):
        self.images.append((tag, array.shape, step, dataformats))

    def flush(self):
        pass


@pytest.fixture
def fake_tensorboard(monkeypatch):
    Recorder.runs = {}
    module = types.ModuleType("torch.utils.tensorboard")
    module.SummaryWriter = Recorder
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", module)
    return Recorder


def test_scalars_and_sample_images_reach_tensorboard_and_resume_purges(
    build_module, tmp_path, fake_tensorboard
):
    m = build_module(REPO / "specs" / "toy_moons.yaml", *SETS)
    assert m.main(["--device", "cpu", "--out", str(tmp_path), "--max-steps", "10"]) == 0
    m._TENSORBOARD.clear()  # a new process
    assert m.main(["--device", "cpu", "--out", str(tmp_path), "--resume", "latest"]) == 0
    first, resumed = fake_tensorboard.runs[str(tmp_path / "tensorboard")]
    assert first.purge_step == 0 and resumed.purge_step == 15  # the first step it logs again
    tags = {tag for tag, _, _ in first.scalars + resumed.scalars}
    assert {"train/loss", "train/grad_norm", "train/lr", "eval/w2", "eval/w2_floor"} <= tags
    assert [s for t, _, s in resumed.scalars if t == "train/loss"] == [15, 20]
    assert [(tag, step) for tag, _, step, _ in first.images] == [
        ("eval/samples", 0),
        ("eval/samples", 10),
    ]
    assert resumed.images[-1][0] == "eval/samples" and resumed.images[-1][1][2] == 3


def test_a_missing_tensorboard_says_what_to_install(build_module, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    m = build_module(REPO / "specs" / "toy_moons.yaml", *SETS)
    m._TENSORBOARD.clear()
    with pytest.raises(SystemExit, match="needs TensorBoard: pip install tensorboard"):
        m.main(["--device", "cpu", "--out", str(tmp_path), "--max-steps", "5"])
