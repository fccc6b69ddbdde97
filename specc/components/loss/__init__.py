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


# FC weights that vanish with the exposure bias delta (the others are >= 1 or about 1)
ZERO_AT_NO_BIAS = ("abs", "delta_squared")


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
    fc = loss.get("fc")
    if fc and fc["weight"] in ZERO_AT_NO_BIAS and not fc["keep_fm"]:
        yield (
            ("loss", "fc", "weight"),
            f"{fc['weight']!r} is 0 wherever delta is 0, and delta is 0 everywhere at the start "
            "(a zero-initialised output layer predicts 0 at every input), so with keep_fm false "
            "the loss and every gradient stay 0 and nothing trains: set loss.fc.keep_fm: true, "
            "or use affine_abs (>= 1)",
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


def reflexflow(spec: dict) -> dict:
    """The loss's passes as the docstring states them, and the sum it returns, for this spec's
    choice of ADR, FC, detach, p_apply and warm-up."""
    loss = spec["loss"]
    adr, fc = loss.get("adr"), loss.get("fc")
    detach = ".detach()" if loss["detach_rollout"] else ""
    ramp = " * ramp" if loss["warmup_steps"] else ""
    lines = [
        "pass 1   u0_hat = f(z_t0, t0); error2 = (output - target)^2, L_FM its (weighted) mean",
        f"rollout  x1_hat = z_t0 + (t1 - t0)*u0_hat{detach}, t1 = rollout_times(t0)",
    ]
    total, formula = ([], []) if fc and not fc["keep_fm"] else (["loss_fm"], ["L_FM"])
    parts = ['"fm": loss_fm']  # the weighted terms, for loss_balance
    if adr:
        target = "u_adr.detach()" if adr["detach_target"] else "u_adr"
        lines.append(f"pass 2   L_ADR = batch mean of adr_per_sample(f(x1_hat, t1), {target})")
    if fc:
        if fc["delta"] == "velocity":
            lines.append("pass 3   delta = f(x1_hat, t1) - f(z_t1, t1) without gradients")
        else:
            lines.append("         delta = x1_hat - z_t1 without gradients")
        lines.append("         L_FC = the (weighted) mean of fc_weight(delta)*error2")
        total.append("cfg.fc.beta2 * loss_fc")
        parts.append(f'"fc": {total[-1]}')
        formula.append("beta2*L_FC")
    if adr:
        total.append(f"cfg.adr.beta1{ramp} * loss_adr")
        parts.append(f'"adr": {total[-1]}')
        formula.append(f"beta1{ramp.replace(' * ', '*')}*L_ADR")
    lines.append("loss     " + " + ".join(formula))
    notes = []
    if loss["p_apply"] < 1:
        notes.append(
            "Each sample takes the rollout with probability loss.p_apply (the others keep w = 1 "
            "and no ADR term); passes 2-3 run only on the chosen samples."
        )
    if loss["warmup_steps"]:
        notes.append(
            "The corrections ramp in over loss.warmup_steps: ramp = min(1, (step + 1)/"
            "warmup_steps) scales beta1 and w - 1."
        )
    flat = "{" + ", ".join(parts) + "}"  # laid out as ruff format would after `terms = `
    laid = (
        flat
        if len(flat) <= 84
        else "{\n" + "".join(f"{' ' * 12}{p},\n" for p in parts) + " " * 8 + "}"
    )
    return {"passes": lines, "notes": notes, "total": " + ".join(total), "parts": laid}


CHECKS = [check_training_endpoints, check_input_perturbation]
UNITS = (
    Unit("loss", "cfm"),
    Unit("loss", "reflexflow", checks=(check_reflexflow,), derive=reflexflow),
)
