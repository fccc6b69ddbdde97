"""Cross-field checks: rules the JSON Schema cannot express, run on the resolved spec.

Each check is a function in CHECKS taking the resolved data and yielding
(json path parts, message, severity); the pipeline turns them into positioned Diagnostics.
Add a rule by writing one function and listing it in CHECKS.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator

from specc.diagnostics import Diagnostic, Location
from specc.diagnostics import json_path as jp
from specc.resolve import DEFAULT, ResolvedSpec
from specc.validate import locate

Finding = tuple[tuple, str, str]  # (path parts, message, "error" | "warning")
Check = Callable[[dict], Iterator[Finding]]

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_name(spec: dict) -> Iterator[Finding]:
    # The schema checks a written name; a name taken from the file stem is checked here.
    if not NAME_RE.match(spec["name"]):
        yield (
            ("name",),
            f"{spec['name']!r} (from the file name) is not a valid name: set "
            "name: to 1-64 letters, digits and '_', not starting with a digit",
            "error",
        )


def check_time_range(spec: dict) -> Iterator[Finding]:
    train = spec["train"]
    if train["t_min"] >= train["t_max"]:
        yield (
            ("train", "t_min"),
            f"{train['t_min']} must be smaller than $.train.t_max ({train['t_max']})",
            "error",
        )


def check_time_dim(spec: dict) -> Iterator[Finding]:
    model = spec["model"]
    if "time_dim" in model and model["time_dim"] % 2:
        yield (
            ("model", "time_dim"),
            f"{model['time_dim']} must be even (sine and cosine features come in pairs)",
            "error",
        )


def check_schedule(spec: dict) -> Iterator[Finding]:
    train = spec["train"]
    steps = train["steps"]
    if train["warmup_steps"] >= steps:
        yield (
            ("train", "warmup_steps"),
            f"{train['warmup_steps']} is not smaller than "
            f"$.train.steps ({steps}), so the learning rate never reaches train.lr",
            "warning",
        )
    if train["log_every"] > steps:
        yield (
            ("train", "log_every"),
            f"{train['log_every']} is larger than $.train.steps "
            f"({steps}), so no training loss is logged",
            "warning",
        )
    every = spec["eval"].get("every", 0)
    if every > steps:
        yield (
            ("eval", "every"),
            f"{every} is larger than $.train.steps ({steps}), so eval runs only at the end",
            "warning",
        )


IMAGE_MODELS = ("unet", "dit")
TEN_CLASSES = ("digits", "cifar10")  # datasets whose labels are 0-9


def image_shape(spec: dict) -> tuple[int, ...] | None:
    """(C, H, W) of one example of the spec's data; None for 2-D toy points."""
    d = spec["data"]
    kind = d["kind"]
    if kind == "digits":
        return (1, d["size"], d["size"])
    if kind == "cifar10":
        return (3, 32, 32)
    if kind == "celeba":
        return (3, d["size"], d["size"])
    if kind == "imagefolder":
        return (d["channels"], d["size"], d["size"])
    if kind == "tensor":
        return tuple(d["shape"])
    return None


def has_labels(data: dict) -> bool:
    kind = data["kind"]
    if kind == "imagefolder":
        return bool(data["labels"])
    if kind == "tensor":
        return bool(data["labels_path"])
    return kind in TEN_CLASSES


def fid_features(spec: dict) -> str:
    """eval.fid features after `auto`: the digits classifier for digits, else Inception."""
    chosen = spec["eval"]["features"]
    if chosen != "auto":
        return chosen
    return "digits" if spec["data"]["kind"] == "digits" else "inception"


def check_model_data(spec: dict) -> Iterator[Finding]:
    kind, data_kind = spec["model"]["kind"], spec["data"]["kind"]
    images = image_shape(spec) is not None
    if kind in IMAGE_MODELS and not images:
        yield (
            ("model", "kind"),
            f"'{kind}' is an image model but data.kind '{data_kind}' gives 2-D points: "
            "use model.kind mlp",
            "error",
        )
    if kind == "mlp" and images:
        yield (
            ("model", "kind"),
            f"'mlp' takes 2-D points; for data.kind '{data_kind}' use model.kind unet or dit",
            "error",
        )


def check_labels(spec: dict) -> Iterator[Finding]:
    n = spec["model"].get("num_classes", 0)
    data = spec["data"]
    if n == 0:
        return
    if not has_labels(data):
        hint = {
            "imagefolder": " (set data.labels: true and use class subdirectories)",
            "tensor": " (set data.labels_path)",
        }.get(data["kind"], "")
        yield (
            ("model", "num_classes"),
            f"{n} asks for class conditioning, but data.kind '{data['kind']}' has no labels{hint}; "
            "set model.num_classes: 0",
            "error",
        )
    elif data["kind"] in TEN_CLASSES and n < 10:
        yield (
            ("model", "num_classes"),
            f"{n} is too few: data.kind '{data['kind']}' has labels 0-9 (use 10)",
            "error",
        )


def check_unet(spec: dict) -> Iterator[Finding]:
    m = spec["model"]
    shape = image_shape(spec)
    if m["kind"] != "unet" or shape is None:
        return
    levels = len(m["channel_mult"])
    side = shape[-1]
    if side % 2 ** (levels - 1) or shape[-2] % 2 ** (levels - 1):
        yield (
            ("model", "channel_mult"),
            f"{levels} levels halve the image {levels - 1} times, but the image is "
            f"{shape[-2]}x{side}: its sides must be divisible by {2 ** (levels - 1)}",
            "error",
        )
        return
    resolutions = [side // 2**i for i in range(levels)]
    for r in m["attention_resolutions"]:
        if r not in resolutions:
            yield (
                ("model", "attention_resolutions"),
                f"{r} is not one of the model's resolutions {resolutions}, "
                "so no attention is added for it",
                "warning",
            )
    attended = {m["channels"] * m["channel_mult"][-1]}
    for level, mult in enumerate(m["channel_mult"]):
        if resolutions[level] in m["attention_resolutions"]:
            attended.add(m["channels"] * mult)
    for c in sorted({m["channels"] * mult for mult in m["channel_mult"]}):
        if c % m["norm_groups"]:
            yield (
                ("model", "norm_groups"),
                f"{m['norm_groups']} does not divide the channel count {c} "
                "(channels x channel_mult)",
                "error",
            )
            break
    for c in sorted(attended):
        per_head = m["head_channels"] or None
        if per_head and c % per_head:
            yield (
                ("model", "head_channels"),
                f"{per_head} does not divide the {c} channels of an attention layer",
                "error",
            )
            break
        if not per_head and c % m["heads"]:
            yield (
                ("model", "heads"),
                f"{m['heads']} heads do not divide the {c} channels of an attention layer",
                "error",
            )
            break


def check_dit(spec: dict) -> Iterator[Finding]:
    m = spec["model"]
    shape = image_shape(spec)
    if m["kind"] != "dit" or shape is None:
        return
    p = m["patch_size"]
    if shape[-1] % p or shape[-2] % p or shape[-1] != shape[-2]:
        yield (
            ("model", "patch_size"),
            f"{p} must divide the sides of the square image ({shape[-2]}x{shape[-1]})",
            "error",
        )
    if m["width"] % m["heads"]:
        yield (("model", "heads"), f"{m['heads']} does not divide width {m['width']}", "error")
    if m["width"] % 4:
        yield (
            ("model", "width"),
            f"{m['width']} must be divisible by 4 (sin and cos of rows and columns)",
            "error",
        )


def check_eval_data(spec: dict) -> Iterator[Finding]:
    ev = spec["eval"]
    shape = image_shape(spec)
    data_kind = spec["data"]["kind"]
    if ev["kind"] == "fid":
        if shape is None:
            yield (
                ("eval", "kind"),
                f"'fid' compares images, but data.kind '{data_kind}' gives 2-D points: "
                "use eval.kind w2",
                "error",
            )
            return
        if fid_features(spec) == "digits" and data_kind != "digits":
            yield (
                ("eval", "features"),
                f"'digits' features come from a digits classifier; for data.kind '{data_kind}' "
                "use inception",
                "error",
            )
        if shape[0] not in (1, 3):
            yield (
                ("eval", "kind"),
                f"'fid' needs 1- or 3-channel images, but the data has {shape[0]} channels "
                "(latents need a decoder, which specc does not provide): use eval.kind w2 "
                "with eval.plot: false",
                "error",
            )
    if ev["kind"] == "w2" and spec["sampler"]["kind"] == "dopri5":
        # The flow diagnostics integrate Euler on the sampler's grid; dopri5 has none.
        for key, on in (("straightness", ev["straightness"]), ("few_step", ev["few_step"])):
            if on:
                yield (
                    ("eval", key),
                    "measured on Euler trajectories over the sampler's step grid, and sampler "
                    "dopri5 has no grid: turn it off (straightness: false, few_step: []) or use "
                    "a fixed-step sampler (euler, heun, ...)",
                    "error",
                )
    if ev["kind"] == "w2" and shape is not None and ev["plot"]:
        yield (
            ("eval", "plot"),
            f"the W2 scatter plot shows 2-D points; for data.kind '{data_kind}' set eval.plot: "
            "false (or use eval.kind fid for images)",
            "error",
        )


def check_grad_accum(spec: dict) -> Iterator[Finding]:
    train = spec["train"]
    if train["batch_size"] % train["grad_accum"]:
        yield (
            ("train", "grad_accum"),
            f"{train['grad_accum']} does not divide $.train.batch_size ({train['batch_size']})",
            "error",
        )


def conditional(spec: dict) -> bool:
    """The model is class-conditional (it reads the labels y that batch_for_step returns)."""
    return spec["model"].get("num_classes", 0) > 0 and has_labels(spec["data"])


def coupling_condition(spec: dict) -> str | None:
    """The coupling's effective condition: within_class or ignore (None for kinds without one).
    `auto` pairs within classes for class-conditional models (METHODS 6.5) and across the whole
    batch otherwise."""
    condition = spec["coupling"].get("condition")
    if condition == "auto":
        return "within_class" if conditional(spec) else "ignore"
    return condition


def check_coupling(spec: dict) -> Iterator[Finding]:
    coupling, kind = spec["coupling"], spec["data"]["kind"]
    labelled = conditional(spec)
    condition = coupling.get("condition")
    if condition == "within_class" and not has_labels(spec["data"]):
        yield (
            ("coupling", "condition"),
            f"within_class pairs inside each class, but data.kind {kind!r} has no labels; "
            "use auto or ignore",
            "error",
        )
    if condition == "ignore" and labelled:
        yield (
            ("coupling", "condition"),
            f"ignore pairs across the classes of {kind!r} for a class-conditional model: noises "
            "near class-c data go to class c, so the model no longer sees eps ~ N(0, I) for "
            "every class; within_class (or auto) keeps it",
            "warning",
        )
    if coupling["kind"] == "reflow" and labelled:
        yield (
            ("coupling", "kind"),
            "write-pairs writes unconditional pairs (no labels), so reflow of a class-conditional "
            "model trains on pairs that ignore the classes",
            "warning",
        )


# ---- Paths, predictions, weightings, samplers: the endpoint guards of METHODS.md §3.


def _sigma0_is_zero(path: dict) -> bool:
    """sigma_0 = 0 (z_0 = x exactly): every path but edm and rectified with sigma_min > 0."""
    return path["kind"] in ("vp_cosine", "vp_linear", "polynomial") or (
        path["kind"] == "rectified" and path["sigma_min"] == 0
    )


def _alpha1_is_zero(path: dict) -> bool:
    """alpha_1 = 0 (z_1 = eps exactly): rectified, vp_cosine, polynomial."""
    return path["kind"] in ("rectified", "vp_cosine", "polynomial")


def _training_poles(spec: dict) -> dict[int, list[str]]:
    """{endpoint: reasons} for what the loss evaluates as infinite (or 0/0) at t = 0 or 1."""
    path, prediction = spec["path"], spec["loss"]["prediction"]["kind"]
    weighting = spec["weighting"]["kind"]
    plain_output = weighting == "output_mse"  # the loss never forms W_v or the gain g_t
    poles: dict[int, list[str]] = {0: [], 1: []}
    if _sigma0_is_zero(path):
        if weighting == "elbo":
            poles[0].append("the elbo weight W_v = (1 - t)/t (rectified form)")
        if prediction == "x0" and not plain_output:
            poles[0].append("the x0-to-velocity gain kappa_t/sigma_t")
        if prediction == "score":
            poles[0].append("the score target -eps/sigma_t")
        if prediction == "edm":
            poles[0].append("EDM's c_noise = log(sigma_t/alpha_t)/4")
    if path["kind"] == "vp_linear":
        if prediction == "velocity":
            poles[0].append("the velocity target (d sigma_t/dt ~ 1/sqrt(t) on vp_linear)")
        elif prediction in ("epsilon", "v") and not plain_output:
            poles[0].append(f"the {prediction}-to-velocity gain (kappa_t ~ 1/sqrt(t) on vp_linear)")
    if _alpha1_is_zero(path):
        if prediction == "epsilon" and not plain_output:
            poles[1].append("the epsilon-to-velocity gain kappa_t/alpha_t")
        if prediction == "score" and not plain_output:
            poles[1].append("the score-to-velocity gain kappa_t*sigma_t/alpha_t")
        if prediction == "edm":
            poles[1].append("EDM's c_noise = log(sigma_t/alpha_t)/4")
    if (
        path["kind"] == "polynomial"
        and path["n"] > 1
        and weighting not in ("uniform", "output_mse")
    ):
        poles[1].append(
            f"the {weighting} weight W_v = w(lambda)*alpha/(sigma*kappa), kappa_t = n(1 - t)^(n-1)"
        )
    return poles


def _infinite(reasons: list[str]) -> str:
    return "; ".join(reasons) + (" is" if len(reasons) == 1 else " are") + " infinite"


def check_training_endpoints(spec: dict) -> Iterator[Finding]:
    train = spec["train"]
    poles = _training_poles(spec)
    path = spec["path"]["kind"]
    if poles[0] and train["t_min"] == 0:
        yield (
            ("train", "t_min"),
            f"{train['t_min']} must be greater than 0 on the {path} path: at t = 0 "
            f"{_infinite(poles[0])} (peers use 1e-5 to 1e-3)",
            "error",
        )
    if poles[1] and train["t_max"] == 1:
        yield (
            ("train", "t_max"),
            f"{train['t_max']} must be less than 1 on the {path} path: at t = 1 "
            f"{_infinite(poles[1])} (e.g. 0.999)",
            "error",
        )


def _sampling_poles_at_one(spec: dict) -> list[str]:
    """Why the first evaluation at t = 1 is singular (only where alpha_1 = 0)."""
    sampler, prediction = spec["sampler"], spec["loss"]["prediction"]["kind"]
    if not _alpha1_is_zero(spec["path"]):
        return []
    reasons = []
    if prediction in ("epsilon", "score"):
        reasons.append(f"the {prediction} network's velocity and data views divide by alpha_t")
    if prediction == "edm":
        reasons.append("EDM's c_noise = log(sigma_t/alpha_t)/4 is infinite")
    if sampler["kind"] == "edm_stochastic" or sampler.get("space") == "sigma":
        reasons.append("sigma-space steps divide by alpha_t")
    if sampler["kind"] == "euler_maruyama" and sampler["diffusion"] == "ddpm":
        reasons.append("the ddpm diffusion g_t^2 = 2 sigma_t kappa_t/alpha_t is infinite")
    if sampler.get("grid", {}).get("kind") == "logsnr_uniform":
        reasons.append("the logsnr_uniform grid would start at lambda = -inf")
    return reasons


def check_sampling_endpoints(spec: dict) -> Iterator[Finding]:
    sampler = spec["sampler"]
    starts_at_one = sampler["t_max"] == 1 and sampler.get("grid", {}).get("kind") != "edm"
    reasons = _sampling_poles_at_one(spec) if starts_at_one else []
    if reasons:
        yield (
            ("sampler", "t_max"),
            f"{sampler['t_max']} must be less than 1 on the {spec['path']['kind']} path, where "
            f"alpha_1 = 0: {'; '.join(reasons)} (e.g. 0.999, or sampler.grid.kind: edm)",
            "error",
        )
    evaluates_at_zero = sampler["kind"] == "rk4" or (
        sampler["kind"] == "dopri5" and sampler["t_min"] == 0
    )
    prediction = spec["loss"]["prediction"]["kind"]
    singular = []
    if _sigma0_is_zero(spec["path"]) and prediction in ("x0", "score", "edm"):
        singular.append(f"the {prediction} network has no velocity (it divides by sigma_0 = 0)")
    if spec["path"]["kind"] == "vp_linear":
        singular.append("the vp_linear velocity is infinite")
    if evaluates_at_zero and singular:
        where = ("sampler", "kind") if sampler["kind"] == "rk4" else ("sampler", "t_min")
        fix = "use heun, midpoint or euler" if sampler["kind"] == "rk4" else "set it above 0"
        yield (
            where,
            f"{sampler['kind']} evaluates the network at t = 0, where {'; '.join(singular)}: {fix}",
            "error",
        )


def check_v_prediction(spec: dict) -> Iterator[Finding]:
    path = spec["path"]["kind"]
    if spec["loss"]["prediction"]["kind"] == "v" and path not in ("vp_cosine", "vp_linear"):
        yield (
            ("loss", "prediction", "kind"),
            f"'v' (alpha*eps - sigma*x) is defined only on variance-preserving paths (vp_cosine, "
            f"vp_linear), not on {path}; predict 'velocity' (u = (pi/2)*v on vp_cosine) instead",
            "error",
        )


MODE_SCALE_MAX = 2.0 / (math.pi - 2.0)


def check_mode_scale(spec: dict) -> Iterator[Finding]:
    sampling = spec["weighting"]["time_sampling"]
    if sampling["kind"] == "mode" and not -1.0 <= sampling["s"] <= MODE_SCALE_MAX:
        yield (
            ("weighting", "time_sampling", "s"),
            f"{sampling['s']} is outside [-1, 2/(pi - 2) = {MODE_SCALE_MAX:.4f}], where the mode "
            "density 1/(1 + s - (pi*s/2)*sin(pi*r)) stays positive and t(r) monotone",
            "error",
        )


def check_noise_ranges(spec: dict) -> Iterator[Finding]:
    path, sampler = spec["path"], spec["sampler"]
    if path["kind"] == "edm" and path["sigma_min"] >= path["sigma_max"]:
        yield (
            ("path", "sigma_min"),
            f"{path['sigma_min']} must be smaller than $.path.sigma_max ({path['sigma_max']})",
            "error",
        )
    grid = sampler.get("grid", {})
    if grid.get("kind") == "edm":
        if grid["sigma_min"] >= grid["sigma_max"]:
            yield (
                ("sampler", "grid", "sigma_min"),
                f"{grid['sigma_min']} must be smaller than $.sampler.grid.sigma_max "
                f"({grid['sigma_max']})",
                "error",
            )
        elif path["kind"] == "edm" and grid["sigma_min"] < path["sigma_min"]:
            yield (
                ("sampler", "grid", "sigma_min"),
                f"{grid['sigma_min']} is below $.path.sigma_min ({path['sigma_min']}): the edm "
                "path has no time with that noise level",
                "error",
            )
    if grid.get("kind") == "logsnr_uniform" and grid["t_min"] >= sampler["t_max"]:
        yield (
            ("sampler", "grid", "t_min"),
            f"{grid['t_min']} must be smaller than $.sampler.t_max ({sampler['t_max']})",
            "error",
        )
    if sampler["kind"] == "dopri5" and sampler["t_min"] >= sampler["t_max"]:
        yield (
            ("sampler", "t_min"),
            f"{sampler['t_min']} must be smaller than $.sampler.t_max ({sampler['t_max']})",
            "error",
        )


def check_sigma_data(spec: dict) -> Iterator[Finding]:
    prediction, weighting = spec["loss"]["prediction"], spec["weighting"]
    if prediction["kind"] == "edm" and weighting["kind"] == "edm":
        if prediction["sigma_data"] != weighting["sigma_data"]:
            yield (
                ("weighting", "sigma_data"),
                f"{weighting['sigma_data']} differs from "
                f"$.loss.prediction.sigma_data ({prediction['sigma_data']})",
                "warning",
            )


# ---- Exposure bias: Input Perturbation and ReflexFlow (METHODS.md §7.8, §8).


def check_reflexflow(spec: dict) -> Iterator[Finding]:
    loss, path, train = spec["loss"], spec["path"], spec["train"]
    ip = loss.get("input_perturbation")
    if ip and ip["target"] == "eps_consistent" and _alpha1_is_zero(path) and train["t_max"] >= 1:
        yield (
            ("loss", "input_perturbation", "target"),
            f"eps_consistent divides by alpha_t, which is 0 at t = 1 on path.kind "
            f"{path['kind']!r}: set $.train.t_max below 1 (e.g. 0.999) or use target clean",
            "error",
        )
    if loss["kind"] != "reflexflow":
        return
    if "adr" not in loss and "fc" not in loss:
        yield (
            ("loss", "kind"),
            "reflexflow needs at least one of loss.adr and loss.fc (write `adr: {}` and/or "
            "`fc: {}` for the defaults); for plain flow matching use loss.kind cfm",
            "error",
        )
    prediction = loss["prediction"]["kind"]
    # Other weightings already need the output-to-velocity gain at both ends (check_training_
    # endpoints); with output_mse only the rollout's conversion does.
    plain_output = spec["weighting"]["kind"] == "output_mse"
    if (
        plain_output
        and prediction in ("x0", "score", "edm")
        and train["t_min"] <= 0
        and _sigma0_is_zero(path)
    ):
        yield (
            ("train", "t_min"),
            f"the rollout converts the {prediction!r} output to a velocity at t0, which divides "
            "by sigma_t = 0 at t = 0: set $.train.t_min above 0 (e.g. 1e-3)",
            "error",
        )
    if plain_output and prediction == "epsilon" and train["t_max"] >= 1 and _alpha1_is_zero(path):
        yield (
            ("train", "t_max"),
            "the rollout converts the 'epsilon' output to a velocity at t0, which divides by "
            "alpha_t = 0 at t = 1: set $.train.t_max below 1 (e.g. 0.999)",
            "error",
        )
    if loss.get("p_apply", 1.0) == 0:
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


def check_exposure_diagnostics(spec: dict) -> Iterator[Finding]:
    if spec["eval"].get("frequency") is not None and image_shape(spec) is None:
        yield (
            ("eval", "frequency"),
            f"the frequency diagnostic takes 2-D FFTs of images, but data.kind "
            f"{spec['data']['kind']!r} gives points: remove eval.frequency",
            "error",
        )


def check_exposure_bias(spec: dict) -> Iterator[Finding]:
    bias = spec["eval"].get("exposure_bias")
    if not bias:
        return
    if spec["sampler"]["kind"] == "dopri5":
        yield (
            ("eval", "exposure_bias"),
            "needs a sampler with a fixed time grid, but dopri5 chooses its own steps: "
            "measure it with euler, heun or another fixed-grid sampler",
            "error",
        )
    if spec["model"].get("num_classes", 0) > 0:
        yield (
            ("eval", "exposure_bias"),
            "is not supported for class-conditional models yet (model.num_classes > 0)",
            "error",
        )


def check_epsilon_scaling(spec: dict) -> Iterator[Finding]:
    sampler = spec["sampler"]
    es = sampler.get("epsilon_scaling")
    if not es:
        return
    where = ("sampler", "epsilon_scaling")
    kind = es["kind"]
    if kind == "linear" and es["b"] + es["k"] <= 0:
        yield (
            where + ("k",),
            f"{es['k']} makes lambda(1) = b + k = {es['b'] + es['k']:g} <= 0 at the noise end; "
            "lambda must stay positive on [0, 1]",
            "error",
        )
    if kind == "linear_index":
        if sampler["kind"] == "dopri5":
            yield (
                where + ("kind",),
                "'linear_index' needs step indices, but dopri5 chooses its own steps: use "
                "'linear' (in t) or 'constant'",
                "error",
            )
        elif es["b"] + es["k"] * (sampler["steps"] - 1) <= 0:
            first = es["b"] + es["k"] * (sampler["steps"] - 1)
            yield (
                where + ("k",),
                f"{es['k']} makes lambda on the first of $.sampler.steps ({sampler['steps']}) "
                f"steps b + k*(N - 1) = {first:g} <= 0; lambda must stay positive",
                "error",
            )
    if kind == "table":
        knots, values = es["t"], es["values"]
        if len(knots) != len(values):
            yield (
                where + ("values",),
                f"has {len(values)} values but $.sampler.epsilon_scaling.t has {len(knots)} "
                "knots: give one lambda per knot",
                "error",
            )
        for j in range(1, len(knots)):
            if knots[j] <= knots[j - 1]:
                yield (
                    where + ("t", j),
                    f"{knots[j]} is not larger than the knot before it ({knots[j - 1]}): the "
                    "knot times must increase strictly",
                    "error",
                )
                break


CHECKS: list[Check] = [
    check_name,
    check_time_range,
    check_time_dim,
    check_schedule,
    check_model_data,
    check_labels,
    check_unet,
    check_dit,
    check_eval_data,
    check_grad_accum,
    check_coupling,
    check_v_prediction,
    check_training_endpoints,
    check_sampling_endpoints,
    check_mode_scale,
    check_noise_ranges,
    check_sigma_data,
    check_reflexflow,
    check_exposure_diagnostics,
    check_exposure_bias,
    check_epsilon_scaling,
]


def run_checks(resolved: ResolvedSpec) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for check in CHECKS:
        for parts, message, severity in check(resolved.data):
            origin = resolved.provenance.get(parts)
            if isinstance(origin, Location):
                loc = origin
            elif origin == DEFAULT:
                loc = locate(resolved.source_map, parts) or Location(resolved.source)
                message += " (the default)"
            else:  # derived, e.g. the name taken from the file name
                loc = Location(resolved.source)
            out.append(Diagnostic(jp(parts), message, loc, severity))
    return out
