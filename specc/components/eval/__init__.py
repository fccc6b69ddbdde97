"""eval: what the script measures; its diagnostics are options of either kind."""

from __future__ import annotations

from collections.abc import Iterator

from specc.components import Finding, Unit


def fid_features(spec: dict) -> dict:
    """eval.features after `auto`: the digits classifier for digits, else Inception."""
    chosen = spec["eval"]["features"]
    if chosen == "auto":
        chosen = "digits" if spec["data"]["kind"] == "digits" else "inception"
    return {"features": chosen}


def check_w2(spec: dict, traits: dict) -> Iterator[Finding]:
    ev, data_kind = spec["eval"], spec["data"]["kind"]
    if traits["sampler"]["adaptive"]:
        # The flow diagnostics integrate Euler on the sampler's grid; dopri5 has none.
        for key in ("straightness", "few_step"):
            if ev[key]:
                yield (
                    ("eval", key),
                    "measured on Euler trajectories over the sampler's step grid, and sampler "
                    f"{spec['sampler']['kind']} has no grid: turn it off (straightness: false, "
                    "few_step: []) or use a fixed-step sampler (euler, heun, ...)",
                    "error",
                )
    if traits["data"]["image"] and ev["plot"]:
        yield (
            ("eval", "plot"),
            f"the W2 scatter plot shows 2-D points; for data.kind '{data_kind}' set eval.plot: "
            "false (or use eval.kind fid for images)",
            "error",
        )


def check_fid(spec: dict, traits: dict) -> Iterator[Finding]:
    data_kind = spec["data"]["kind"]
    if not traits["data"]["image"]:
        yield (
            ("eval", "kind"),
            f"'fid' compares images, but data.kind '{data_kind}' gives 2-D points: "
            "use eval.kind w2",
            "error",
        )
        return
    if fid_features(spec)["features"] == "digits" and data_kind != "digits":
        yield (
            ("eval", "features"),
            f"'digits' features come from a digits classifier; for data.kind '{data_kind}' "
            "use inception",
            "error",
        )
    channels = traits["data"]["shape"][0]
    if channels not in (1, 3):
        yield (
            ("eval", "kind"),
            f"'fid' needs 1- or 3-channel images, but the data has {channels} channels "
            "(latents need a decoder, which specc does not provide): use eval.kind w2 "
            "with eval.plot: false",
            "error",
        )


def check_diagnostics(spec: dict, traits: dict) -> Iterator[Finding]:
    ev = spec["eval"]
    if ev.get("frequency") is not None and not traits["data"]["image"]:
        yield (
            ("eval", "frequency"),
            f"the frequency diagnostic takes 2-D FFTs of images, but data.kind "
            f"{spec['data']['kind']!r} gives points: remove eval.frequency",
            "error",
        )
    if ev.get("exposure_bias") and traits["sampler"]["adaptive"]:
        yield (
            ("eval", "exposure_bias"),
            f"needs a sampler with a fixed time grid, but {spec['sampler']['kind']} chooses its "
            "own steps: measure it with euler, heun or another fixed-grid sampler",
            "error",
        )
    if ev.get("exposure_bias") and traits["model"]["conditional"]:
        yield (
            ("eval", "exposure_bias"),
            "is not supported for class-conditional models yet (model.num_classes > 0)",
            "error",
        )


CHECKS = [check_diagnostics]
UNITS = (
    Unit("eval", "w2", checks=(check_w2,)),
    Unit("eval", "fid", checks=(check_fid,), derive=fid_features),
)
