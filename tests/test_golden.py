"""generated/ always equals `specc build` of specs/; the generated code is formatted and clean."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from specc.cli import main
from specc.reference import markdown

REPO = Path(__file__).resolve().parent.parent


def test_generated_matches_specs(monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.chdir(REPO)
    code = main(["check"])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err


def test_every_spec_has_a_script_and_opens_with_its_commands():
    specs = sorted((REPO / "specs").glob("*.yaml"))
    assert specs
    for spec in specs:
        head = spec.read_text().splitlines()[:4]
        assert any("specc build" in line for line in head), f"{spec.name}: no build command"
        assert any("python generated/" in line for line in head), f"{spec.name}: no run command"


def _ruff() -> list[str]:
    exe = shutil.which("ruff")
    if exe:
        return [exe]
    return [sys.executable, "-m", "ruff"]


def test_generated_code_is_formatted_and_lint_clean():
    fmt = subprocess.run(
        [*_ruff(), "format", "--check", "--no-cache", "generated/"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    lint = subprocess.run(
        [*_ruff(), "check", "--no-cache", "--select", "E4,E7,E9,F,ARG", "generated/"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_spec_reference_is_current():
    path = REPO / "docs" / "spec-reference.md"
    assert path.read_text(encoding="utf-8") == markdown(), (
        "docs/spec-reference.md is stale: specc schema --markdown > docs/spec-reference.md"
    )


@pytest.mark.parametrize("script", sorted(p.name for p in (REPO / "generated").glob("*.py")))
def test_every_generated_command_parses_its_arguments(script, import_text, capsys):
    """Each committed script imports, and `<command> --help` works for every command it has (a
    help string or default that reads a config field the spec lacks fails here, not for a user)."""
    module = import_text((REPO / "generated" / script).read_text(), script[:-3])
    for command in ["--help", *module.COMMANDS]:
        argv = [command] if command == "--help" else [command, "--help"]
        with pytest.raises(SystemExit) as exit_info:
            module.parse_args(argv)
        assert exit_info.value.code == 0, f"{script} {' '.join(argv)}"
        assert "usage:" in capsys.readouterr().out


SCRIPTS = sorted((REPO / "generated").glob("*.py"))


def test_every_script_is_within_its_line_budget():
    """generated/budgets.json holds each committed script's line budget under one ceiling: a
    script that grows past it fails here, so growth is a decision made in that file."""
    budgets = json.loads((REPO / "generated" / "budgets.json").read_text())
    assert sorted(budgets["scripts"]) == [p.stem for p in SCRIPTS], "budgets.json vs generated/"
    for script in SCRIPTS:
        limit = budgets["scripts"][script.stem]
        lines = len(script.read_text().splitlines())
        assert limit <= budgets["ceiling"], f"{script.name}: budget above the ceiling"
        assert lines <= limit, (
            f"{script.name} has {lines} lines, over its budget of {limit}: cut it, or raise the "
            "budget in generated/budgets.json"
        )


def _names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


@pytest.mark.parametrize("script", [p.name for p in SCRIPTS])
def test_every_top_level_name_is_reachable_from_main(script):
    """Walk from main() (and the __main__ guard) through every name a reachable definition
    loads: a function, class or constant nothing reaches is dead weight in the file."""
    tree = ast.parse((REPO / "generated" / script).read_text())
    defined = {name: node for node in tree.body for name in _names(node)}
    stack = ["main"] + [
        n.id
        for node in tree.body
        if not _names(node) and not isinstance(node, (ast.Import, ast.ImportFrom))
        for n in ast.walk(node)
        if isinstance(n, ast.Name)
    ]
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if name in defined and name not in seen:
            seen.add(name)
            stack += [n.id for n in ast.walk(defined[name]) if isinstance(n, ast.Name)]
    assert sorted(set(defined) - seen) == [], f"{script}: unreachable top-level names"
