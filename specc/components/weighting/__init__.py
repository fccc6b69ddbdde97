"""weighting: the loss weight over time, and the density training times are drawn from.

Trait `poles` (keyed by the path's zeros, specc.components.path): where the weight W_v itself is
infinite. Every weighting but uniform and output_mse is a Kingma-Gao w(lambda) mapped onto the
path, W_v = w(lambda)*alpha/(sigma*kappa), which is infinite where kappa_1 = 0.
"""

from __future__ import annotations

from collections.abc import Iterator

from specc.components import Finding, Unit

DEFAULTS = {"poles": {}}
ELBO = "(1 - t)/t (rectified form)"


def kingma_gao(kind: str, **more: str) -> dict:
    formula = f"the {kind} weight W_v = w(lambda)*alpha/(sigma*kappa), kappa_t = n(1 - t)^(n-1)"
    return {"poles": {"kappa1": formula, **more}}


def check_sigma_data(spec: dict, _traits: dict) -> Iterator[Finding]:
    prediction, weighting = spec["loss"]["prediction"], spec["weighting"]
    if prediction["kind"] == "edm" and prediction["sigma_data"] != weighting["sigma_data"]:
        yield (
            ("weighting", "sigma_data"),
            f"{weighting['sigma_data']} differs from "
            f"$.loss.prediction.sigma_data ({prediction['sigma_data']})",
            "warning",
        )


UNITS = (
    Unit("weighting", "uniform"),
    Unit("weighting", "output_mse"),
    Unit("weighting", "elbo", kingma_gao("elbo", sigma0=f"the elbo weight W_v = {ELBO}")),
    *(
        Unit("weighting", kind, kingma_gao(kind))
        for kind in ("eps_mse", "eps_mse_cosine", "x_mse", "sigmoid", "min_snr")
    ),
    Unit("weighting", "edm", kingma_gao("edm"), (check_sigma_data,)),
    Unit("weighting", "cosmap", kingma_gao("cosmap")),
    Unit("weighting", "sd3_logit_normal", kingma_gao("sd3_logit_normal")),
)
