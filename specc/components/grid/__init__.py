"""grid: The time grid t_0 = t_max > t_1 > ... > t_N = 0."""

from __future__ import annotations

from specc.components import Unit

UNITS = (
    Unit("grid", "uniform"),
    Unit("grid", "edm"),
    Unit("grid", "logsnr_uniform"),
    Unit("grid", "shifted"),
)
