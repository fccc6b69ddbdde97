"""coupling: how data and noise are paired within a batch."""

from __future__ import annotations

from collections.abc import Iterator

from specc.components import Finding, Unit

# From this batch size on, POT's network simplex solves the assignment as fast as SciPy's or
# faster, at every dimension measured (docs/couplings.md); below, both take under a millisecond.
POT_FROM_BATCH = 128


def solver(spec: dict) -> str:
    """The exact assignment solver, `auto` made concrete from the batch size (the per-rank k is
    smaller under DDP, where the choice is at worst a fraction of a millisecond off)."""
    chosen = spec["coupling"].get("solver", "auto")
    if chosen == "auto":
        return "pot" if spec["train"]["batch_size"] >= POT_FROM_BATCH else "scipy"
    return chosen


def minibatch(spec: dict) -> dict:
    """A solver-based pairing: whether it draws random numbers (then couple() takes a generator),
    the exact solver, the function that pairs a batch (the assignment itself for an exact OT
    permutation) and its condition after `auto` (within each class for a class-conditional model,
    METHODS 6.5; across the whole batch otherwise)."""
    c = spec["coupling"]
    condition = c["condition"]
    if condition == "auto":
        condition = "within_class" if spec["model"].get("num_classes", 0) > 0 else "ignore"
    permutation = c["kind"] == "exact_ot" and c["pairing"] == "permutation"
    return {
        "random": c["kind"] == "sinkhorn" or c.get("pairing") == "resample_torchcfm",
        "solver": solver(spec),
        "pairs": "solve_assignment" if permutation else "pair_indices",
        "condition": condition,
    }


def plain(spec: dict) -> dict:
    """No pairing: the eval's transport cost diagnostic brings its own exact assignment."""
    return {"random": False, "solver": solver(spec)}


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
