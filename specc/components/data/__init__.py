"""data: where the training examples come from; `image` says whether they are images."""

from __future__ import annotations

from specc.components import Unit

UNITS = (
    Unit("data", "toy2d", {"image": False}),
    Unit("data", "digits", {"image": True}),
    Unit("data", "cifar10", {"image": True}),
    Unit("data", "celeba", {"image": True}),
    Unit("data", "imagefolder", {"image": True}),
    Unit("data", "tensor", {"image": True}),
)
