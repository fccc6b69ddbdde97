"""model: the network; class conditioning and guidance are derived from its options."""

from __future__ import annotations

from specc.components import Unit


def conditioning(spec: dict) -> dict:
    """A class-conditional network (the validator has checked that the data has labels), and
    whether samplers guide it (classifier-free guidance with a scale other than 1)."""
    conditional = spec["model"].get("num_classes", 0) > 0
    return {
        "conditional": conditional,
        "guided": conditional and spec["model"]["guidance_scale"] != 1.0,
    }


UNITS = (
    Unit("model", "mlp", {"image": False}, derive=conditioning),
    Unit("model", "unet", {"image": True}, derive=conditioning),
    Unit("model", "dit", {"image": True}, derive=conditioning),
)
