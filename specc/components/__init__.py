"""The components: one unit per `kind:` of a section.

A unit lives in `specc/components/<section>/`: its schema fragment `<kind>.json` (the options of
that kind, with their defaults and descriptions), its template `<kind>.py.j2` (the Python it
emits), and its entry in the section's `UNITS` (`<section>/__init__.py`) with the traits other
sections read and the checks and derived values that belong to it. Adding a kind is those three
and a test; nothing else names it.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

# (json path parts, message, "error" | "warning"), yielded by a check
Finding = tuple[tuple, str, str]
# A check reads the resolved spec and the chosen units' traits ({section: {name: value}}).
Check = Callable[[dict, dict], Iterator[Finding]]

# Each section, in the order of the generated script, and where it sits in a spec.
SECTIONS: dict[str, tuple[str, ...]] = {
    "data": ("data",),
    "model": ("model",),
    "path": ("path",),
    "coupling": ("coupling",),
    "loss": ("loss",),
    "prediction": ("loss", "prediction"),
    "weighting": ("weighting",),
    "time_sampling": ("weighting", "time_sampling"),
    "sampler": ("sampler",),
    "grid": ("sampler", "grid"),
    "eval": ("eval",),
    "epsilon_scaling": ("sampler", "epsilon_scaling"),
}


@dataclass(frozen=True)
class Unit:
    """One kind of one section."""

    section: str
    kind: str
    # Facts other units and the skeleton read (e.g. a sampler's `stochastic`), so none of them
    # names this kind.
    traits: Mapping[str, Any] = field(default_factory=dict)
    # Rules the schema cannot express; each runs only when this kind is chosen.
    checks: tuple[Check, ...] = ()
    # Build-time values computed once from the resolved spec (e.g. `auto` made concrete).
    derive: Callable[[dict], dict] | None = None

    @property
    def template(self) -> str:
        """The partial's name under the template root."""
        return f"components/{self.section}/{self.kind}.py.j2"

    def fragment(self) -> dict:
        return _json(self.section, f"{self.kind}.json")

    def trait(self, name: str, default: Any = None) -> Any:
        return self.traits.get(name, default)


@dataclass(frozen=True)
class Command:
    """A subcommand a section adds to the script: its name, its function, the partial with the
    function's code and the partial with its argparse lines (inside parse_args)."""

    name: str
    function: str
    code: str
    arguments: str


# The skeleton's extension points, and what fills each where no chosen section's HOOKS does: the
# step generator every sampler takes its steps from (Epsilon Scaling wraps it) and the subcommands
# beyond train, sample and eval. A cross-cutting feature fills these instead of flags in siblings.
HOOKS: dict[str, Any] = {"grid_steps": "components/sampler/_grid_steps.py.j2", "commands": ()}


def hooks(units: dict[str, Unit]) -> dict[str, Any]:
    """HOOKS, filled by the chosen sections' own HOOKS (commands add up; templates replace)."""
    out = dict(HOOKS)
    for section in units:
        for name, value in getattr(_module(section), "HOOKS", {}).items():
            out[name] = out[name] + tuple(value) if name == "commands" else value
    return out


def _module(section: str) -> Any:
    return importlib.import_module(f"specc.components.{section}")


def _json(section: str, name: str) -> dict:
    text = resources.files("specc.components").joinpath(section, name).read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def registry() -> dict[tuple[str, str], Unit]:
    """{(section, kind): unit} in each section's declared order."""
    out: dict[tuple[str, str], Unit] = {}
    for section in SECTIONS:
        module = _module(section)
        for unit in module.UNITS:
            out[(unit.section, unit.kind)] = unit
    return out


def kinds(section: str) -> list[str]:
    return [kind for (sec, kind) in registry() if sec == section]


def lookup(section: str, kind: str) -> Unit:
    try:
        return registry()[(section, kind)]
    except KeyError:
        # The schema admitted a kind nobody registered: a specc bug, not a user error.
        raise LookupError(f"no unit registered for {section}.kind {kind!r}") from None


def section_value(spec: dict, section: str) -> dict | None:
    """The spec's mapping for a section, or None where it has none (e.g. no epsilon_scaling)."""
    node: Any = spec
    for part in SECTIONS[section]:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def chosen_units(spec: dict) -> dict[str, Unit]:
    """{section: unit} for every section the resolved spec has."""
    out = {}
    for section in SECTIONS:
        value = section_value(spec, section)
        if isinstance(value, dict) and "kind" in value:
            out[section] = lookup(section, value["kind"])
    return out


def unit_traits(spec: dict, units: dict[str, Unit] | None = None) -> dict[str, dict]:
    """{section: the chosen unit's traits and derived values}, each derived value computed once."""
    units = chosen_units(spec) if units is None else units
    out = {}
    for section, unit in units.items():
        defaults = getattr(_module(section), "DEFAULTS", {})
        out[section] = {**defaults, **unit.traits, **(unit.derive(spec) if unit.derive else {})}
    return out


def all_checks(units: dict[str, Unit]) -> list[Check]:
    """The chosen units' checks, then each section's own (rules across its kinds and others)."""
    checks = [check for unit in units.values() for check in unit.checks]
    for section in SECTIONS:
        checks += getattr(_module(section), "CHECKS", [])
    return checks


def schema_defs() -> dict[str, dict]:
    """The sections' and units' `$defs`: each section with its kinds as if/then branches."""
    defs: dict[str, dict] = {}
    for section in SECTIONS:
        node = _json(section, "_section.json")
        names = kinds(section)
        node["properties"]["kind"]["enum"] = names
        node["allOf"] = [
            {
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": {"$ref": f"#/$defs/{section}.{kind}"},
            }
            for kind in names
        ]
        defs[section] = node
        for kind in names:
            fragment = lookup(section, kind).fragment()
            defs.update(fragment.pop("$defs", {}))
            defs[f"{section}.{kind}"] = fragment
        if resources.files("specc.components").joinpath(section, "_defs.json").is_file():
            defs.update(_json(section, "_defs.json"))
    return defs
