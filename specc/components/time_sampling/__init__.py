"""time_sampling units."""

from __future__ import annotations

from specc.components import Unit

UNITS = (
    Unit("time_sampling", "uniform"),
    Unit("time_sampling", "logit_normal"),
    Unit("time_sampling", "mode"),
    Unit("time_sampling", "cosmap"),
    Unit("time_sampling", "edm_lognormal"),
)
