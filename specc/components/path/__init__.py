"""path: the noise schedule z_t = alpha_t*x + sigma_t*eps.

Derived trait `zeros`: which of the ends the conversions and weights divide by are exactly zero
on this path. sigma0: sigma_0 = 0 (z_0 = x); alpha1: alpha_1 = 0 (z_1 = eps); kappa1: kappa_1 = 0
(the velocity loses its noise term at t = 1); kappa_inf0: kappa_t, and the velocity, grow like
1/sqrt(t) at t = 0. Other sections name their poles by these, never by the path's kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from specc.components import Finding, Unit

ENDPOINT = {"sigma0": 0, "kappa_inf0": 0, "alpha1": 1, "kappa1": 1}  # where each zero sits


def rectified(spec: dict) -> dict:
    sigma_min = spec["path"]["sigma_min"]
    return {"zeros": {"alpha1"} | ({"sigma0"} if sigma_min == 0 else set())}


def polynomial(spec: dict) -> dict:
    return {"zeros": {"sigma0", "alpha1"} | ({"kappa1"} if spec["path"]["n"] > 1 else set())}


def fixed(*zeros: str) -> Callable[[dict], dict]:
    """The derive function of a path whose zeros do not depend on its options."""
    return lambda _spec: {"zeros": set(zeros)}


def check_edm_range(spec: dict, _traits: dict) -> Iterator[Finding]:
    path = spec["path"]
    if path["sigma_min"] >= path["sigma_max"]:
        yield (
            ("path", "sigma_min"),
            f"{path['sigma_min']} must be smaller than $.path.sigma_max ({path['sigma_max']})",
            "error",
        )


DEFAULTS = {"variance_preserving": False}
VP = {"variance_preserving": True}
UNITS = (
    Unit("path", "rectified", derive=rectified),
    Unit("path", "vp_cosine", VP, derive=fixed("sigma0", "alpha1")),
    Unit("path", "vp_linear", VP, derive=fixed("sigma0", "kappa_inf0")),
    Unit("path", "edm", checks=(check_edm_range,), derive=fixed()),
    Unit("path", "polynomial", derive=polynomial),
)
