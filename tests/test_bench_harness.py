"""bench/run_all.py --quick runs every benchmark at CI scale into a temporary directory and
renders the report from what they wrote (the committed bench/results/ stay untouched)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_harness_runs_every_benchmark_and_renders_the_report(tmp_path: Path):
    pytest.importorskip("matplotlib")
    committed = {p.name: p.read_bytes() for p in (REPO / "bench" / "results").glob("*.json")}
    results, report = tmp_path / "results", tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run_all.py"), "--quick", "--results",
         str(results), "--report", str(report)],
        cwd=REPO, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    names = {p.stem for p in results.glob("*.json")}
    expected = {"build_time", "sampler_order", "samplers_w2", "toy_couplings",
                "coupling_overhead", "train_step_cpu", "reflexflow_step",
                "reflexflow_ablation"}  # fmt: skip
    assert expected <= names, names
    for path in results.glob("*.json"):
        data = json.loads(path.read_text())
        assert data.get("machine"), path.name  # every result says what it ran on
    text = (report / "RESULTS.md").read_text()
    for heading in ("Minibatch OT", "Samplers converge", "hand-written loop", "specc build",
                    "ReflexFlow: cost", "ReflexFlow ablation"):  # fmt: skip
        assert heading in text
    for png in ("couplings_few_step", "sampler_order", "samplers_w2", "reflexflow_ablation"):
        assert (report / "results" / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    # a quick run leaves the committed full-run results alone
    assert {
        p.name: p.read_bytes() for p in (REPO / "bench" / "results").glob("*.json")
    } == committed
