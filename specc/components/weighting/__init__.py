"""weighting: Loss weight W_v(t) on the velocity error and the training-time density of t."""

from __future__ import annotations

from specc.components import Unit

UNITS = (
    Unit("weighting", "uniform"),
    Unit("weighting", "output_mse"),
    Unit("weighting", "elbo"),
    Unit("weighting", "eps_mse"),
    Unit("weighting", "eps_mse_cosine"),
    Unit("weighting", "x_mse"),
    Unit("weighting", "sigmoid"),
    Unit("weighting", "min_snr"),
    Unit("weighting", "edm"),
    Unit("weighting", "cosmap"),
    Unit("weighting", "sd3_logit_normal"),
)
