"""Bad-input cases: tests/cases/<case>/ holds spec.yaml (and any parents), optional args.txt (CLI
arguments, one per line; default `validate spec.yaml`), expected_stderr.txt and optional
expected_exit.txt (default 1). The CLI runs in-process with the case directory as the working
directory, so diagnostics read `spec.yaml:3:1: ...`.

`pytest --update-golden` rewrites expected_stderr.txt files, then fails listing each one it changed,
so a green run never hides an update. A case without expected_stderr.txt fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from specc.cli import main

CASES = Path(__file__).parent / "cases"
CASE_DIRS = sorted(p for p in CASES.iterdir() if p.is_dir())


def test_there_are_at_least_ten_cases():
    assert len(CASE_DIRS) >= 10


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_case(
    case: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
):
    args_file = case / "args.txt"
    args = args_file.read_text().splitlines() if args_file.exists() else ["validate", "spec.yaml"]
    exit_file = case / "expected_exit.txt"
    expected_exit = int(exit_file.read_text()) if exit_file.exists() else 1
    monkeypatch.chdir(case)
    code = main(args)
    err = capsys.readouterr().err
    golden = case / "expected_stderr.txt"
    if request.config.getoption("--update-golden"):
        if not golden.exists() or golden.read_text() != err:
            golden.write_text(err)
            pytest.fail(f"updated {golden.relative_to(CASES.parent.parent)}")
    assert golden.exists(), f"missing {golden}: run pytest --update-golden and review it"
    assert err == golden.read_text()
    assert code == expected_exit
