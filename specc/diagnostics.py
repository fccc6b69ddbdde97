"""Diagnostics: one problem with a spec, where it is, and how it is printed.

Every stage reports problems as `Diagnostic`s instead of raising on the first one, so a user sees
all of them at once, sorted by position: `file:line:col: $.json.path: message`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Exit codes of the CLI (click itself exits 2 on a usage error).
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


@dataclass(frozen=True, order=True)
class Location:
    """Where a value came from.

    `file` is the display name of a spec file (relative when possible) or, for a `--set` override,
    the override text itself (`--set train.lr=1e-4`); `line` and `column` are 1-based and are 0 for
    overrides and for values that have no position (defaults).
    """

    file: str
    line: int = 0
    column: int = 0
    override: int = -1  # index of the --set override, -1 for a file position

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file


@dataclass(frozen=True)
class Diagnostic:
    """One problem. `path` is a JSON path like `$.train.lr`."""

    path: str
    message: str
    location: Location | None = None
    severity: str = "error"  # "error" or "warning"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def format(self, fallback_file: str = "<spec>") -> str:
        where = str(self.location) if self.location is not None else fallback_file
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {self.path}: {prefix}{self.message}"

    def sort_key(self) -> tuple:
        loc = self.location
        if loc is None:
            return (1, 0, "", 0, 0, self.path, self.message)
        if loc.override >= 0:
            # --set diagnostics come last, in the order the overrides were given.
            return (2, loc.override, "", 0, 0, self.path, self.message)
        return (0, 0, loc.file, loc.line, loc.column, self.path, self.message)


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sort by file, line, column, then path; --set ones last in order; drop exact repeats."""
    unique = {(d.path, d.message, d.location, d.severity): d for d in diags}
    return sorted(unique.values(), key=Diagnostic.sort_key)


def has_errors(diags: Sequence[Diagnostic]) -> bool:
    return any(d.is_error for d in diags)


class SpeccError(Exception):
    """A user error: the CLI prints the diagnostics (or the message) and exits 1, no traceback."""

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = ()):
        super().__init__(message)
        self.diagnostics = list(diagnostics)


def json_path(parts: Sequence[str | int]) -> str:
    """`('train', 'betas', 0)` -> `$.train.betas[0]`; odd keys are quoted: `$['a b']`."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{part!r}]"
    return out
