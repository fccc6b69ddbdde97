"""sampler: how samples are drawn, from t = t_max down to 0."""

from __future__ import annotations

from specc.components import Unit

DETERMINISTIC = {"stochastic": False, "adaptive": False}
STOCHASTIC = {"stochastic": True, "adaptive": False}  # sample() takes a generator for its noise

UNITS = (
    Unit("sampler", "euler", DETERMINISTIC),
    Unit("sampler", "heun", DETERMINISTIC),
    Unit("sampler", "midpoint", DETERMINISTIC),
    Unit("sampler", "rk4", DETERMINISTIC),
    Unit("sampler", "dopri5", {"stochastic": False, "adaptive": True}),  # no grid, no --steps
    Unit("sampler", "ddim_eta", STOCHASTIC),
    Unit("sampler", "ddpm", STOCHASTIC),
    Unit("sampler", "edm_stochastic", STOCHASTIC),
    Unit("sampler", "euler_maruyama", STOCHASTIC),
    Unit("sampler", "dpmpp_2m", DETERMINISTIC),
)
