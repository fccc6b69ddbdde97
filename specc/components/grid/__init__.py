"""sampler.grid: the times a fixed-step sampler visits, from t_max down to 0."""

from __future__ import annotations

from collections.abc import Iterator

from specc.components import Finding, Unit


def check_edm(spec: dict, _traits: dict) -> Iterator[Finding]:
    path, grid = spec["path"], spec["sampler"]["grid"]
    if grid["sigma_min"] >= grid["sigma_max"]:
        yield (
            ("sampler", "grid", "sigma_min"),
            f"{grid['sigma_min']} must be smaller than $.sampler.grid.sigma_max "
            f"({grid['sigma_max']})",
            "error",
        )
    elif path["kind"] == "edm" and grid["sigma_min"] < path["sigma_min"]:
        yield (
            ("sampler", "grid", "sigma_min"),
            f"{grid['sigma_min']} is below $.path.sigma_min ({path['sigma_min']}): the edm "
            "path has no time with that noise level",
            "error",
        )


def check_logsnr(spec: dict, _traits: dict) -> Iterator[Finding]:
    sampler = spec["sampler"]
    if sampler["grid"]["t_min"] >= sampler["t_max"]:
        yield (
            ("sampler", "grid", "t_min"),
            f"{sampler['grid']['t_min']} must be smaller than $.sampler.t_max ({sampler['t_max']})",
            "error",
        )


UNITS = (
    Unit("grid", "uniform"),
    # Sigma_max caps the first time below t = 1 (80/81 on the rectified path)
    Unit("grid", "edm", {"starts_below_one": True}, (check_edm,)),
    Unit(
        "grid",
        "logsnr_uniform",
        {"poles": {"alpha1": "the logsnr_uniform grid would start at lambda = -inf"}},
        (check_logsnr,),
    ),
    Unit("grid", "shifted"),
)
