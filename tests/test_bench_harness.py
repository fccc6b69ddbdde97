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
        [sys.executable, str(REPO / "bench" / "run_all.py"), "--quick", "--jobs", "2",
         "--results", str(results), "--report", str(report)],
        cwd=REPO, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    names = {p.stem for p in results.glob("*.json")}
    expected = {"build_time", "sampler_order", "samplers_w2", "toy_couplings",
                "coupling_overhead", "train_step_cpu", "epsilon_scaling", "reflexflow_step",
                "reflexflow_ablation", "reflexflow_ablation_probes",
                "reflexflow_adr_probe", "solver_crossover"}  # fmt: skip
    assert expected <= names, names
    for path in results.glob("*.json"):
        data = json.loads(path.read_text())
        assert data.get("machine"), path.name  # every result says what it ran on
    text = (report / "RESULTS.md").read_text()
    for heading in ("Minibatch OT", "Samplers converge", "hand-written loop", "specc build",
                    "Epsilon Scaling at low NFE", "ReflexFlow: cost",
                    "ReflexFlow ablation", "why ADR dominates"):  # fmt: skip
        assert heading in text
    for png in ("couplings_few_step", "sampler_order", "samplers_w2", "epsilon_scaling",
                "reflexflow_ablation"):  # fmt: skip
        assert (report / "results" / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    # a quick run leaves the committed full-run results alone
    assert {
        p.name: p.read_bytes() for p in (REPO / "bench" / "results").glob("*.json")
    } == committed


def test_readme_results_block_is_the_report_of_the_committed_results(tmp_path: Path):
    """The README's headline results are generated from bench/results, never hand-edited."""
    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import report
    finally:
        sys.path.remove(str(REPO / "bench"))
    lines = report.report_lines(REPO / "bench" / "results", tmp_path)
    block = report.readme_block(lines)
    assert report.headlines(lines), "the committed results give no verdicts"
    assert block in (REPO / "README.md").read_text(encoding="utf-8"), (
        "README.md's results block is stale: run `python bench/run_all.py --report-only`"
    )
    committed = (REPO / "docs" / "RESULTS.md").read_text(encoding="utf-8")
    assert committed == "\n".join(lines).rstrip("\n") + "\n", (
        "docs/RESULTS.md is stale: run `python bench/run_all.py --report-only`"
    )
