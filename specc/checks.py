"""Cross-field checks: rules the JSON Schema cannot express, run on the resolved spec.

The rules of a component live with it (its unit's `checks` in specc/components/<section>/), and
rules between a section's kinds and other sections in that section's `CHECKS`; both read the
other sections through the chosen units' traits, never through their kind names. This module
holds the spec-level rules (name, train) and turns every finding into a positioned Diagnostic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from specc.components import Finding, all_checks, chosen_units, unit_traits
from specc.diagnostics import Diagnostic, Location
from specc.diagnostics import json_path as jp
from specc.resolve import DEFAULT, ResolvedSpec
from specc.validate import locate

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_name(spec: dict, _traits: dict) -> Iterator[Finding]:
    # The schema checks a written name; a name taken from the file stem is checked here.
    if not NAME_RE.match(spec["name"]):
        yield (
            ("name",),
            f"{spec['name']!r} (from the file name) is not a valid name: set "
            "name: to 1-64 letters, digits and '_', not starting with a digit",
            "error",
        )


def check_train(spec: dict, _traits: dict) -> Iterator[Finding]:
    train = spec["train"]
    steps = train["steps"]
    if train["t_min"] >= train["t_max"]:
        yield (
            ("train", "t_min"),
            f"{train['t_min']} must be smaller than $.train.t_max ({train['t_max']})",
            "error",
        )
    if train["batch_size"] % train["grad_accum"]:
        yield (
            ("train", "grad_accum"),
            f"{train['grad_accum']} does not divide $.train.batch_size ({train['batch_size']})",
            "error",
        )
    if train["warmup_steps"] >= steps:
        yield (
            ("train", "warmup_steps"),
            f"{train['warmup_steps']} is not smaller than "
            f"$.train.steps ({steps}), so the learning rate never reaches train.lr",
            "warning",
        )
    if train["log_every"] > steps:
        yield (
            ("train", "log_every"),
            f"{train['log_every']} is larger than $.train.steps "
            f"({steps}), so no training loss is logged",
            "warning",
        )
    every = spec["eval"].get("every", 0)
    if every > steps:
        yield (
            ("eval", "every"),
            f"{every} is larger than $.train.steps ({steps}), so eval runs only at the end",
            "warning",
        )


def run_checks(resolved: ResolvedSpec) -> list[Diagnostic]:
    units = chosen_units(resolved.data)
    traits = unit_traits(resolved.data, units)
    out: list[Diagnostic] = []
    for check in [check_name, check_train, *all_checks(units)]:
        for parts, message, severity in check(resolved.data, traits):
            origin = resolved.provenance.get(parts)
            if isinstance(origin, Location):
                loc = origin
            elif origin == DEFAULT:
                loc = locate(resolved.source_map, parts) or Location(resolved.source)
                message += " (the default)"
            else:  # derived, e.g. the name taken from the file name
                loc = Location(resolved.source)
            out.append(Diagnostic(jp(parts), message, loc, severity))
    return out
