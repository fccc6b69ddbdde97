"""The stages wired together: spec file (+ --set) -> diagnostics, resolved spec, script text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from specc.checks import run_checks
from specc.diagnostics import Diagnostic, has_errors, sort_diagnostics
from specc.merge import Merged, merge_spec
from specc.plan import make_plan
from specc.render import render
from specc.resolve import ResolvedSpec, resolve
from specc.validate import validate_merged


@dataclass
class Result:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    merged: Merged | None = None
    resolved: ResolvedSpec | None = None
    text: str | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)

    @property
    def name(self) -> str:
        assert self.resolved is not None
        return self.resolved.data["name"]


def check_spec(path: Path, sets: Sequence[str] = ()) -> Result:
    """load + merge + validate + resolve + cross-field checks; no rendering."""
    merged = merge_spec(path, sets)
    result = Result(diagnostics=list(merged.diagnostics), merged=merged)
    if merged.fatal:
        result.diagnostics = sort_diagnostics(result.diagnostics)
        return result
    result.diagnostics = validate_merged(merged)
    if has_errors(result.diagnostics):
        result.diagnostics = sort_diagnostics(result.diagnostics)
        return result
    result.resolved = resolve(merged)
    result.diagnostics = sort_diagnostics(result.diagnostics + run_checks(result.resolved))
    return result


def build_spec(
    path: Path, sets: Sequence[str] = (), script_label: str | None = None, prune: bool = True
) -> Result:
    """check_spec, then plan + render when the spec is valid (prune=False: see render)."""
    result = check_spec(path, sets)
    if result.ok and result.resolved is not None:
        result.text = render(make_plan(result.resolved, script_label), prune)
    return result
