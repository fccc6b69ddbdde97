"""sampler: how samples are drawn, from t = t_max down to 0.

Traits: `view`, what each step evaluates (velocity: u(z, t); denoised: (x_hat, eps_hat)),
`stochastic` (sample() takes a generator for its noise), `adaptive` (dopri5 picks its own steps:
no grid, no --steps); derived `poles` (keyed by the path's zeros) for what a step itself divides
by, and `at_zero` when it evaluates the network at t = 0.
"""

from __future__ import annotations

from collections.abc import Iterator

from specc.components import Finding, Unit
from specc.components.path import ENDPOINT

DEFAULTS = {"stochastic": False, "adaptive": False, "view": "velocity", "poles": {}}
SIGMA_SPACE = {"alpha1": "sigma-space steps divide by alpha_t"}


def heun(spec: dict) -> dict:
    sigma = spec["sampler"]["space"] == "sigma"
    return {"view": "denoised" if sigma else "velocity", "poles": SIGMA_SPACE if sigma else {}}


def euler_maruyama(spec: dict) -> dict:
    ddpm = spec["sampler"]["diffusion"] == "ddpm"
    return {
        "poles": {"alpha1": "the ddpm diffusion g_t^2 = 2 sigma_t kappa_t/alpha_t is infinite"}
        if ddpm
        else {}
    }


def check_range(spec: dict, _traits: dict) -> Iterator[Finding]:
    sampler = spec["sampler"]
    if sampler["t_min"] >= sampler["t_max"]:
        yield (
            ("sampler", "t_min"),
            f"{sampler['t_min']} must be smaller than $.sampler.t_max ({sampler['t_max']})",
            "error",
        )


def check_endpoints(spec: dict, traits: dict) -> Iterator[Finding]:
    """The first evaluation at t_max = 1 and any at t = 0 must be finite: the network's view
    (velocity or data and noise), the step's own arithmetic and the grid, at the path's zeros."""
    sampler, zeros, path = spec["sampler"], traits["path"]["zeros"], spec["path"]["kind"]
    s, grid = traits["sampler"], traits.get("grid", {})
    views = traits["prediction"]["view_poles"]
    at_one = {
        reason: zero
        for table in (views.get(s["view"], {}), s["poles"], grid.get("poles", {}))
        for zero, reason in table.items()
        if zero in zeros and ENDPOINT[zero] == 1
    }
    if at_one and sampler["t_max"] == 1 and not grid.get("starts_below_one"):
        where = " and ".join(sorted({f"{z[:-1]}_1 = 0" for z in at_one.values()}))
        yield (
            ("sampler", "t_max"),
            f"{sampler['t_max']} must be less than 1 on the {path} path, where {where}: "
            f"{'; '.join(at_one)} (e.g. 0.999, or sampler.grid.kind: edm)",
            "error",
        )
    singular = [r for z, r in views.get("velocity", {}).items() if z in zeros and ENDPOINT[z] == 0]
    if "kappa_inf0" in zeros:
        singular.append(f"the {path} velocity is infinite")
    if s.get("at_zero") and singular:
        where = ("sampler", "kind") if sampler["kind"] == "rk4" else ("sampler", "t_min")
        fix = "use heun, midpoint or euler" if sampler["kind"] == "rk4" else "set it above 0"
        yield (
            where,
            f"{sampler['kind']} evaluates the network at t = 0, where {'; '.join(singular)}: {fix}",
            "error",
        )


DENOISED, STOCHASTIC = {"view": "denoised"}, {"view": "denoised", "stochastic": True}
CHECKS = [check_endpoints]
UNITS = (
    Unit("sampler", "euler"),
    Unit("sampler", "heun", derive=heun),
    Unit("sampler", "midpoint"),
    Unit("sampler", "rk4", {"at_zero": True}),
    Unit(
        "sampler",
        "dopri5",
        {"adaptive": True},
        (check_range,),
        lambda spec: {"at_zero": spec["sampler"]["t_min"] == 0},
    ),
    Unit("sampler", "ddim_eta", STOCHASTIC),
    Unit("sampler", "ddpm", STOCHASTIC),
    Unit("sampler", "edm_stochastic", {**STOCHASTIC, "poles": SIGMA_SPACE}),
    Unit("sampler", "euler_maruyama", STOCHASTIC, derive=euler_maruyama),
    Unit("sampler", "dpmpp_2m", DENOISED),
)
