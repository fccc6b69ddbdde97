"""sampler.epsilon_scaling: the lambda schedule of Epsilon Scaling (the wrapper is _scaled)."""

from __future__ import annotations

from collections.abc import Iterator

from specc.components import Command, Finding, Unit

WHERE = ("sampler", "epsilon_scaling")


def check_linear(spec: dict, _traits: dict) -> Iterator[Finding]:
    es = spec["sampler"]["epsilon_scaling"]
    if es["b"] + es["k"] <= 0:
        yield (
            (*WHERE, "k"),
            f"{es['k']} makes lambda(1) = b + k = {es['b'] + es['k']:g} <= 0 at the noise end; "
            "lambda must stay positive on [0, 1]",
            "error",
        )


def check_linear_index(spec: dict, traits: dict) -> Iterator[Finding]:
    sampler, es = spec["sampler"], spec["sampler"]["epsilon_scaling"]
    if traits["sampler"]["adaptive"]:
        yield (
            (*WHERE, "kind"),
            f"'linear_index' needs step indices, but {sampler['kind']} chooses its own steps: use "
            "'linear' (in t) or 'constant'",
            "error",
        )
    elif es["b"] + es["k"] * (sampler["steps"] - 1) <= 0:
        first = es["b"] + es["k"] * (sampler["steps"] - 1)
        yield (
            (*WHERE, "k"),
            f"{es['k']} makes lambda on the first of $.sampler.steps ({sampler['steps']}) "
            f"steps b + k*(N - 1) = {first:g} <= 0; lambda must stay positive",
            "error",
        )


def check_table(spec: dict, _traits: dict) -> Iterator[Finding]:
    es = spec["sampler"]["epsilon_scaling"]
    knots, values = es["t"], es["values"]
    if len(knots) != len(values):
        yield (
            (*WHERE, "values"),
            f"has {len(values)} values but $.sampler.epsilon_scaling.t has {len(knots)} "
            "knots: give one lambda per knot",
            "error",
        )
    for j in range(1, len(knots)):
        if knots[j] <= knots[j - 1]:
            yield (
                (*WHERE, "t", j),
                f"{knots[j]} is not larger than the knot before it ({knots[j - 1]}): the "
                "knot times must increase strictly",
                "error",
            )
            break


UNITS = (
    Unit("epsilon_scaling", "constant"),
    Unit("epsilon_scaling", "linear", checks=(check_linear,)),
    Unit("epsilon_scaling", "linear_index", checks=(check_linear_index,)),
    Unit("epsilon_scaling", "table", checks=(check_table,)),
)

# Epsilon Scaling wraps the samplers' step generator (one place for every sampler) and adds tune-es.
HOOKS = {
    "grid_steps": "components/epsilon_scaling/_scaled.py.j2",
    "commands": (
        Command(
            "tune-es",
            "cmd_tune_es",
            "components/epsilon_scaling/_tune_es.py.j2",
            "components/epsilon_scaling/_tune_es_args.py.j2",
        ),
    ),
}
