"""coupling: how data and noise are paired within a batch."""

from __future__ import annotations

from collections.abc import Iterator

from specc.components import Finding, Unit


def minibatch(spec: dict) -> dict:
    """A solver-based pairing: whether it draws random numbers (then couple() takes a generator),
    the exact assignment solver it uses, and its condition after `auto` (within each class for a
    class-conditional model, METHODS 6.5; across the whole batch otherwise)."""
    c = spec["coupling"]
    condition = c["condition"]
    if condition == "auto":
        condition = "within_class" if spec["model"].get("num_classes", 0) > 0 else "ignore"
    return {
        "random": c["kind"] == "sinkhorn" or c.get("pairing") == "resample_torchcfm",
        "solver": c.get("solver", "scipy"),
        "condition": condition,
    }


def plain(_spec: dict) -> dict:
    """No solver: the eval's transport cost diagnostic brings its own exact assignment."""
    return {"random": False, "solver": "scipy"}


def check_condition(spec: dict, traits: dict) -> Iterator[Finding]:
    condition, kind = spec["coupling"]["condition"], spec["data"]["kind"]
    if condition == "within_class" and not traits["data"]["labelled"]:
        yield (
            ("coupling", "condition"),
            f"within_class pairs inside each class, but data.kind {kind!r} has no labels; "
            "use auto or ignore",
            "error",
        )
    if condition == "ignore" and traits["model"]["conditional"] and traits["data"]["labelled"]:
        yield (
            ("coupling", "condition"),
            f"ignore pairs across the classes of {kind!r} for a class-conditional model: noises "
            "near class-c data go to class c, so the model no longer sees eps ~ N(0, I) for "
            "every class; within_class (or auto) keeps it",
            "warning",
        )


def check_reflow(_spec: dict, traits: dict) -> Iterator[Finding]:
    if traits["model"]["conditional"] and traits["data"]["labelled"]:
        yield (
            ("coupling", "kind"),
            "sample --pairs writes unconditional pairs (no labels), so reflow of a "
            "class-conditional model trains on pairs that ignore the classes",
            "warning",
        )


SOLVER = (check_condition,)
UNITS = (
    Unit("coupling", "independent", {"minibatch": False}, derive=plain),
    Unit("coupling", "exact_ot", {"minibatch": True}, SOLVER, minibatch),
    Unit("coupling", "sinkhorn", {"minibatch": True}, SOLVER, minibatch),
    Unit("coupling", "stable", {"minibatch": True}, SOLVER, minibatch),
    Unit("coupling", "reflow", {"minibatch": False}, (check_reflow,), plain),
)
