"""loss.prediction: what the network outputs, and its conversions to the other views.

Traits, keyed by the path's zeros (specc.components.path): `loss_poles`, what the loss evaluates
as infinite at that end whatever the weighting; `gain_poles`, the output-to-velocity gain the loss
weight needs (all weightings but output_mse); `view_poles`, per view a sampler takes (velocity or
denoised), what the conversion divides by.
"""

from __future__ import annotations

from collections.abc import Iterator

from specc.components import Finding, Unit

DEFAULTS = {
    "velocity": False,
    "preconditioned": False,
    "loss_poles": {},
    "gain_poles": {},
    "view_poles": {},
}
VP_KAPPA = "(kappa_t ~ 1/sqrt(t) on vp_linear)"
EDM_NOISE = "EDM's c_noise = log(sigma_t/alpha_t)/4"


def check_variance_preserving(spec: dict, traits: dict) -> Iterator[Finding]:
    if not traits["path"].get("variance_preserving"):
        yield (
            ("loss", "prediction", "kind"),
            f"'v' (alpha*eps - sigma*x) is defined only on variance-preserving paths (vp_cosine, "
            f"vp_linear), not on {spec['path']['kind']}; predict 'velocity' (u = (pi/2)*v on "
            "vp_cosine) instead",
            "error",
        )


def alpha_views(name: str) -> dict:
    message = f"the {name} network's velocity and data views divide by alpha_t"
    return {"velocity": {"alpha1": message}, "denoised": {"alpha1": message}}


def no_velocity(name: str) -> dict:
    return {"sigma0": f"the {name} network has no velocity (it divides by sigma_0 = 0)"}


UNITS = (
    # the network's output is the velocity: the loss and the samplers use it as it is
    Unit(
        "prediction",
        "velocity",
        {
            "velocity": True,
            "loss_poles": {
                "kappa_inf0": "the velocity target (d sigma_t/dt ~ 1/sqrt(t) on vp_linear)"
            },
            "view_poles": {
                "denoised": {
                    "kappa1": "the velocity network's data and noise views divide by kappa_t"
                }
            },
        },
    ),
    Unit(
        "prediction",
        "epsilon",
        {
            "gain_poles": {
                "alpha1": "the epsilon-to-velocity gain kappa_t/alpha_t",
                "kappa_inf0": f"the epsilon-to-velocity gain {VP_KAPPA}",
            },
            "view_poles": alpha_views("epsilon"),
        },
    ),
    Unit(
        "prediction",
        "x0",
        {
            "gain_poles": {"sigma0": "the x0-to-velocity gain kappa_t/sigma_t"},
            "view_poles": {"velocity": no_velocity("x0")},
        },
    ),
    Unit(
        "prediction",
        "v",
        {"gain_poles": {"kappa_inf0": f"the v-to-velocity gain {VP_KAPPA}"}},
        (check_variance_preserving,),
    ),
    Unit(
        "prediction",
        "score",
        {
            "loss_poles": {"sigma0": "the score target -eps/sigma_t"},
            "gain_poles": {"alpha1": "the score-to-velocity gain kappa_t*sigma_t/alpha_t"},
            "view_poles": {
                **alpha_views("score"),
                "velocity": {**alpha_views("score")["velocity"], **no_velocity("score")},
            },
        },
    ),
    # EDM scales the network's input and feeds it c_noise in place of t (network_output)
    Unit(
        "prediction",
        "edm",
        {
            "preconditioned": True,
            "loss_poles": {"sigma0": EDM_NOISE, "alpha1": EDM_NOISE},
            "view_poles": {
                "velocity": {"alpha1": f"{EDM_NOISE} is infinite", **no_velocity("edm")},
                "denoised": {"alpha1": f"{EDM_NOISE} is infinite"},
            },
        },
    ),
)
