"""Cross-field checks: rules the JSON Schema cannot express, run on the resolved spec.

Each check is a function in CHECKS taking the resolved data and yielding
(json path parts, message, severity); the pipeline turns them into positioned Diagnostics.
Add a rule by writing one function and listing it in CHECKS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from specc.diagnostics import Diagnostic, Location
from specc.diagnostics import json_path as jp
from specc.resolve import DEFAULT, ResolvedSpec
from specc.validate import locate

Finding = tuple[tuple, str, str]  # (path parts, message, "error" | "warning")
Check = Callable[[dict], Iterator[Finding]]

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_name(spec: dict) -> Iterator[Finding]:
    # The schema checks a written name; a name taken from the file stem is checked here.
    if not NAME_RE.match(spec["name"]):
        yield (
            ("name",),
            f"{spec['name']!r} (from the file name) is not a valid name: set "
            "name: to 1-64 letters, digits and '_', not starting with a digit",
            "error",
        )


def check_time_range(spec: dict) -> Iterator[Finding]:
    train = spec["train"]
    if train["t_min"] >= train["t_max"]:
        yield (
            ("train", "t_min"),
            f"{train['t_min']} must be smaller than $.train.t_max ({train['t_max']})",
            "error",
        )


def check_time_dim(spec: dict) -> Iterator[Finding]:
    model = spec["model"]
    if "time_dim" in model and model["time_dim"] % 2:
        yield (
            ("model", "time_dim"),
            f"{model['time_dim']} must be even (sine and cosine features come in pairs)",
            "error",
        )


def check_schedule(spec: dict) -> Iterator[Finding]:
    train = spec["train"]
    steps = train["steps"]
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


# Data kinds whose batches carry integer class labels y (batch_for_step returns them). The
# couplings' `condition` reads this set: `auto` pairs within classes for these kinds and across the
# whole batch otherwise; `within_class` on any other kind is an error. Add a kind here when its
# data partial returns labels (toy2d returns y = None).
LABELLED_DATA: frozenset[str] = frozenset()


def coupling_condition(spec: dict) -> str | None:
    """The coupling's effective condition: within_class or ignore (None for kinds without one)."""
    condition = spec["coupling"].get("condition")
    if condition == "auto":
        return "within_class" if spec["data"]["kind"] in LABELLED_DATA else "ignore"
    return condition


def check_coupling(spec: dict) -> Iterator[Finding]:
    coupling, kind = spec["coupling"], spec["data"]["kind"]
    labelled = kind in LABELLED_DATA
    condition = coupling.get("condition")
    if condition == "within_class" and not labelled:
        known = ", ".join(sorted(LABELLED_DATA)) or "none yet"
        yield (
            ("coupling", "condition"),
            f"within_class pairs inside each class, but data.kind {kind!r} has no labels "
            f"(labelled data kinds: {known}); use auto or ignore",
            "error",
        )
    if condition == "ignore" and labelled:
        yield (
            ("coupling", "condition"),
            f"ignore pairs across classes of the labelled data.kind {kind!r}: noises near class-c "
            "data go to class c, so a class-conditional model no longer sees eps ~ N(0, I) for "
            "every class; within_class (or auto) keeps it",
            "warning",
        )
    if coupling["kind"] == "reflow" and labelled:
        yield (
            ("coupling", "kind"),
            "write-pairs writes unconditional pairs (no labels), so reflow on labelled data "
            "trains an unconditional model",
            "warning",
        )


CHECKS: list[Check] = [
    check_name,
    check_time_range,
    check_time_dim,
    check_schedule,
    check_coupling,
]


def run_checks(resolved: ResolvedSpec) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for check in CHECKS:
        for parts, message, severity in check(resolved.data):
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
