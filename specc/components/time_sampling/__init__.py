"""weighting.time_sampling: the density training times are drawn from."""

from __future__ import annotations

import math
from collections.abc import Iterator

from specc.components import Finding, Unit

MODE_SCALE_MAX = 2.0 / (math.pi - 2.0)


def check_mode_scale(spec: dict, _traits: dict) -> Iterator[Finding]:
    s = spec["weighting"]["time_sampling"]["s"]
    if not -1.0 <= s <= MODE_SCALE_MAX:
        yield (
            ("weighting", "time_sampling", "s"),
            f"{s} is outside [-1, 2/(pi - 2) = {MODE_SCALE_MAX:.4f}], where the mode "
            "density 1/(1 + s - (pi*s/2)*sin(pi*r)) stays positive and t(r) monotone",
            "error",
        )


UNITS = (
    Unit("time_sampling", "uniform"),
    Unit("time_sampling", "logit_normal"),
    Unit("time_sampling", "mode", checks=(check_mode_scale,)),
    Unit("time_sampling", "cosmap"),
    Unit("time_sampling", "edm_lognormal"),
)
