"""coupling: how data and noise are paired within a batch."""

from __future__ import annotations

from specc.components import Unit


def minibatch(spec: dict) -> dict:
    """A solver-based pairing: whether it draws random numbers (then couple() takes a generator),
    which exact assignment solver it uses, and its condition after `auto` (within each class for
    a class-conditional model, METHODS 6.5; across the whole batch otherwise)."""
    c = spec["coupling"]
    condition = c["condition"]
    if condition == "auto":
        condition = "within_class" if spec["model"].get("num_classes", 0) > 0 else "ignore"
    return {
        "random": c["kind"] == "sinkhorn" or c.get("pairing") == "resample_torchcfm",
        "solver": c.get("solver", "scipy"),
        "condition": condition,
    }


def plain(spec: dict) -> dict:
    """No solver: the eval's transport cost diagnostic brings its own exact assignment."""
    return {"random": False, "solver": "scipy"}


UNITS = (
    Unit("coupling", "independent", {"minibatch": False}, derive=plain),
    Unit("coupling", "exact_ot", {"minibatch": True}, derive=minibatch),
    Unit("coupling", "sinkhorn", {"minibatch": True}, derive=minibatch),
    Unit("coupling", "stable", {"minibatch": True}, derive=minibatch),
    Unit("coupling", "reflow", {"minibatch": False}, derive=plain),
)
