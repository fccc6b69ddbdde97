"""loss: the training objective, and the endpoint guards of its time range (METHODS.md §3)."""

from __future__ import annotations

from collections.abc import Iterator

from specc.components import Finding, Unit
from specc.components.path import ENDPOINT


def infinite(reasons: list[str]) -> str:
    return "; ".join(reasons) + (" is" if len(reasons) == 1 else " are") + " infinite"


def check_training_endpoints(spec: dict, traits: dict) -> Iterator[Finding]:
    """train.t_min/t_max must stay off an end where the loss is infinite: the prediction's own
    poles, its output-to-velocity gain (unless output_mse weights the output's error directly)
    and the weight, each at the path's zeros."""
    train, path, zeros = spec["train"], spec["path"]["kind"], traits["path"]["zeros"]
    prediction = traits["prediction"]
    tables = [prediction["loss_poles"], traits["weighting"]["poles"]]
    if spec["weighting"]["kind"] != "output_mse":
        tables.insert(1, prediction["gain_poles"])
    poles: dict[int, list[str]] = {0: [], 1: []}
    for table in tables:
        for zero, reason in table.items():
            if zero in zeros:
                poles[ENDPOINT[zero]].append(reason)
    if poles[0] and train["t_min"] == 0:
        yield (
            ("train", "t_min"),
            f"{train['t_min']} must be greater than 0 on the {path} path: at t = 0 "
            f"{infinite(poles[0])} (peers use 1e-5 to 1e-3)",
            "error",
        )
    if poles[1] and train["t_max"] == 1:
        yield (
            ("train", "t_max"),
            f"{train['t_max']} must be less than 1 on the {path} path: at t = 1 "
            f"{infinite(poles[1])} (e.g. 0.999)",
            "error",
        )


def check_input_perturbation(spec: dict, traits: dict) -> Iterator[Finding]:
    ip, train = spec["loss"].get("input_perturbation"), spec["train"]
    if ip and ip["target"] == "eps_consistent" and "alpha1" in traits["path"]["zeros"]:
        if train["t_max"] >= 1:
            yield (
                ("loss", "input_perturbation", "target"),
                f"eps_consistent divides by alpha_t, which is 0 at t = 1 on path.kind "
                f"{spec['path']['kind']!r}: set $.train.t_max below 1 (e.g. 0.999) or use "
                "target clean",
                "error",
            )


def check_reflexflow(spec: dict, traits: dict) -> Iterator[Finding]:
    loss, train, zeros = spec["loss"], spec["train"], traits["path"]["zeros"]
    if "adr" not in loss and "fc" not in loss:
        yield (
            ("loss", "kind"),
            "reflexflow needs at least one of loss.adr and loss.fc (write `adr: {}` and/or "
            "`fc: {}` for the defaults); for plain flow matching use loss.kind cfm",
            "error",
        )
    # The rollout converts the output to a velocity at t0: other weightings need that gain at
    # both ends already (check_training_endpoints); with output_mse only the rollout does.
    if spec["weighting"]["kind"] == "output_mse":
        velocity_poles = traits["prediction"]["view_poles"].get("velocity", {})
        kind = loss["prediction"]["kind"]
        if "sigma0" in velocity_poles and "sigma0" in zeros and train["t_min"] <= 0:
            yield (
                ("train", "t_min"),
                f"the rollout converts the {kind!r} output to a velocity at t0, which divides "
                "by sigma_t = 0 at t = 0: set $.train.t_min above 0 (e.g. 1e-3)",
                "error",
            )
        if "alpha1" in velocity_poles and "alpha1" in zeros and train["t_max"] >= 1:
            yield (
                ("train", "t_max"),
                f"the rollout converts the {kind!r} output to a velocity at t0, which divides "
                "by alpha_t = 0 at t = 1: set $.train.t_max below 1 (e.g. 0.999)",
                "error",
            )
    if loss["p_apply"] == 0:
        yield (
            ("loss", "p_apply"),
            "0 turns the rollout off, so the loss is plain flow matching at extra build "
            "complexity: use loss.kind cfm",
            "warning",
        )
    if loss["t1_rule"] == "fraction" and loss["t1_step"] != 0.02:
        yield (
            ("loss", "t1_step"),
            "is used only by t1_rule fixed_step; t1_rule fraction ignores it",
            "warning",
        )


CHECKS = [check_training_endpoints, check_input_perturbation]
UNITS = (
    Unit("loss", "cfm"),
    Unit("loss", "reflexflow", checks=(check_reflexflow,)),
)
