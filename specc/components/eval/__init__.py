"""eval: what the script measures; its diagnostics are options of either kind."""

from __future__ import annotations

from specc.components import Unit


def fid_features(spec: dict) -> dict:
    """eval.features after `auto`: the digits classifier for digits, else Inception."""
    chosen = spec["eval"]["features"]
    if chosen == "auto":
        chosen = "digits" if spec["data"]["kind"] == "digits" else "inception"
    return {"features": chosen}


UNITS = (
    Unit("eval", "w2"),
    Unit("eval", "fid", derive=fid_features),
)
