"""epsilon_scaling units."""

from __future__ import annotations

from specc.components import Unit

UNITS = (
    Unit("epsilon_scaling", "constant"),
    Unit("epsilon_scaling", "linear"),
    Unit("epsilon_scaling", "linear_index"),
    Unit("epsilon_scaling", "table"),
)
