"""model: the network; class conditioning and guidance are derived from its options."""

from __future__ import annotations

from collections.abc import Iterator

from specc.components import Finding, Unit


def conditioning(spec: dict) -> dict:
    """A class-conditional network (check_labels makes sure the data has labels), and whether
    samplers guide it (classifier-free guidance with a scale other than 1)."""
    conditional = spec["model"].get("num_classes", 0) > 0
    return {
        "conditional": conditional,
        "guided": conditional and spec["model"]["guidance_scale"] != 1.0,
    }


def check_points(spec: dict, traits: dict) -> Iterator[Finding]:
    model = spec["model"]
    if traits["data"]["image"]:
        yield (
            ("model", "kind"),
            f"'mlp' takes 2-D points; for data.kind '{spec['data']['kind']}' use model.kind unet "
            "or dit",
            "error",
        )
    if model["time_dim"] % 2:
        yield (
            ("model", "time_dim"),
            f"{model['time_dim']} must be even (sine and cosine features come in pairs)",
            "error",
        )


def check_images(spec: dict, traits: dict) -> Iterator[Finding]:
    kind, data = spec["model"]["kind"], spec["data"]
    if not traits["data"]["image"]:
        yield (
            ("model", "kind"),
            f"'{kind}' is an image model but data.kind '{data['kind']}' gives 2-D points: "
            "use model.kind mlp",
            "error",
        )
    n = spec["model"]["num_classes"]
    if n and not traits["data"]["labelled"]:
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
    elif n and n < traits["data"]["classes"]:
        yield (
            ("model", "num_classes"),
            f"{n} is too few: data.kind '{data['kind']}' has labels 0-9 (use 10)",
            "error",
        )


def check_unet(spec: dict, traits: dict) -> Iterator[Finding]:
    m, shape = spec["model"], traits["data"]["shape"]
    if not traits["data"]["image"]:
        return
    levels, side = len(m["channel_mult"]), shape[-1]
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


def check_dit(spec: dict, traits: dict) -> Iterator[Finding]:
    m, shape = spec["model"], traits["data"]["shape"]
    if not traits["data"]["image"]:
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


UNITS = (
    Unit("model", "mlp", {"image": False}, (check_points,), conditioning),
    Unit("model", "unet", {"image": True}, (check_images, check_unet), conditioning),
    Unit("model", "dit", {"image": True}, (check_images, check_dit), conditioning),
)
