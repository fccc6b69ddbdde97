"""loss: The training objective."""

from __future__ import annotations

from specc.components import Unit

UNITS = (
    Unit("loss", "cfm"),
    Unit("loss", "reflexflow"),
)
