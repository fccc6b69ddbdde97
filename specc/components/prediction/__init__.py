"""loss.prediction: what the network outputs, and its conversions to the other views."""

from __future__ import annotations

from specc.components import Unit

UNITS = (
    # the network's output is the velocity: the loss and the samplers use it as it is
    Unit("prediction", "velocity", {"velocity": True, "preconditioned": False}),
    Unit("prediction", "epsilon", {"velocity": False, "preconditioned": False}),
    Unit("prediction", "x0", {"velocity": False, "preconditioned": False}),
    Unit("prediction", "v", {"velocity": False, "preconditioned": False}),
    Unit("prediction", "score", {"velocity": False, "preconditioned": False}),
    # EDM scales the network's input and feeds it c_noise in place of t (network_output)
    Unit("prediction", "edm", {"velocity": False, "preconditioned": True}),
)
