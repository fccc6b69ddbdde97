"""path: The probability path z_t = alpha_t*x + sigma_t*eps (t = 0 data, t = 1 noise)."""

from __future__ import annotations

from specc.components import Unit

UNITS = (
    Unit("path", "rectified"),
    Unit("path", "vp_cosine"),
    Unit("path", "vp_linear"),
    Unit("path", "edm"),
    Unit("path", "polynomial"),
)
