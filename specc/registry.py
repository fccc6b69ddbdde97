"""The component registry: one entry per (section, kind) -> the template partial that emits it.

A component is a `kind:` of a section. Adding one is: a schema branch in
`specc/schema/spec.schema.json`, a partial under `templates/<section>/`, one entry here, tests and
a spec that uses it. `specc list` reads the kinds and their descriptions from the schema; this
registry says how each is emitted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    template: str  # path under templates/
    imports: tuple[str, ...] = ()  # module-level import lines the partial uses
    packages: tuple[str, ...] = ()  # pip packages the emitted code needs besides torch
    variant: str | None = None  # an option whose value picks a sub-partial: <stem>/<value>.py.j2
    helpers: tuple[str, ...] = ()  # shared sampler-section partials it needs (emitted once)
    fills: tuple[tuple[str, str], ...] = ()  # (slot, partial) it fills when its spec has no section


MATH = ("import math",)
LOG_SNR = "sampler/_log_snr.py.j2"


# Image datasets share templates/data/images.py.j2 (epoch permutations, sharding, flips), which
# keeps the dataset in memory behind a lock (the prefetch thread and the main thread both read it).
IMAGES = "import threading"

# Keyed by (section path, kind). Section paths are the spec's dotted paths to a `kind:` mapping.
REGISTRY: dict[tuple[str, str], Component] = {
    ("data", "toy2d"): Component("data/toy2d.py.j2", ("import math",), variant="distribution"),
    ("data", "digits"): Component(
        "data/digits.py.j2", (IMAGES, "import torch.nn.functional as F"), ("scikit-learn",)
    ),
    ("data", "cifar10"): Component(
        "data/cifar10.py.j2", (IMAGES, "import pickle", "import numpy as np"), ("numpy",)
    ),
    ("data", "celeba"): Component(
        "data/celeba.py.j2", (IMAGES, "import numpy as np"), ("numpy", "Pillow")
    ),
    ("data", "imagefolder"): Component(
        "data/imagefolder.py.j2", (IMAGES, "import numpy as np"), ("numpy", "Pillow")
    ),
    ("data", "tensor"): Component("data/tensor.py.j2", (IMAGES, "import numpy as np"), ("numpy",)),
    ("model", "mlp"): Component("model/mlp.py.j2", ("import math",)),
    ("model", "unet"): Component(
        "model/unet.py.j2", ("import math", "import torch.nn.functional as F")
    ),
    ("model", "dit"): Component(
        "model/dit.py.j2", ("import math", "import torch.nn.functional as F")
    ),
    ("path", "rectified"): Component("path/rectified.py.j2"),
    ("path", "vp_cosine"): Component("path/vp_cosine.py.j2", MATH),
    ("path", "vp_linear"): Component("path/vp_linear.py.j2"),
    ("path", "edm"): Component("path/edm.py.j2", MATH),
    ("path", "polynomial"): Component("path/polynomial.py.j2"),
    ("coupling", "independent"): Component("coupling/independent.py.j2"),
    ("coupling", "exact_ot"): Component("coupling/exact_ot.py.j2"),  # scipy or POT: see plan
    ("coupling", "sinkhorn"): Component("coupling/sinkhorn.py.j2", ("import math",)),
    ("coupling", "stable"): Component("coupling/stable.py.j2"),
    ("coupling", "reflow"): Component("coupling/reflow.py.j2", ("import threading",)),
    ("loss", "cfm"): Component("loss/cfm.py.j2"),
    ("loss", "reflexflow"): Component("loss/reflexflow.py.j2"),
    **{
        ("loss.prediction", kind): Component(f"prediction/{kind}.py.j2")
        for kind in ("velocity", "epsilon", "x0", "v", "score", "edm")
    },
    ("weighting", "uniform"): Component("weighting/uniform.py.j2"),
    ("weighting", "output_mse"): Component("weighting/output_mse.py.j2"),
    **{
        ("weighting", kind): Component(f"weighting/{kind}.py.j2", MATH)
        for kind in ("elbo", "eps_mse", "eps_mse_cosine", "x_mse", "sigmoid", "cosmap")
    },
    ("weighting", "min_snr"): Component("weighting/min_snr.py.j2", MATH, variant="base"),
    ("weighting", "edm"): Component("weighting/edm.py.j2", MATH),
    ("weighting", "sd3_logit_normal"): Component("weighting/sd3_logit_normal.py.j2", MATH),
    ("weighting.time_sampling", "uniform"): Component("time_sampling/uniform.py.j2"),
    ("weighting.time_sampling", "logit_normal"): Component("time_sampling/logit_normal.py.j2"),
    ("weighting.time_sampling", "mode"): Component("time_sampling/mode.py.j2", MATH),
    ("weighting.time_sampling", "cosmap"): Component("time_sampling/cosmap.py.j2", MATH),
    ("weighting.time_sampling", "edm_lognormal"): Component("time_sampling/edm_lognormal.py.j2"),
    ("sampler", "euler"): Component("sampler/euler.py.j2"),
    ("sampler", "heun"): Component("sampler/heun.py.j2", variant="space"),
    ("sampler", "midpoint"): Component("sampler/midpoint.py.j2"),
    ("sampler", "rk4"): Component("sampler/rk4.py.j2"),
    ("sampler", "dopri5"): Component(
        "sampler/dopri5.py.j2", fills=(("grid", "grid/adaptive.py.j2"),)
    ),
    ("sampler", "ddim_eta"): Component("sampler/ddim_eta.py.j2", MATH),
    ("sampler", "ddpm"): Component("sampler/ddpm.py.j2", MATH, helpers=(LOG_SNR,)),
    ("sampler", "edm_stochastic"): Component(
        "sampler/edm_stochastic.py.j2", MATH, helpers=(LOG_SNR,)
    ),
    ("sampler", "euler_maruyama"): Component(
        "sampler/euler_maruyama.py.j2", MATH, variant="diffusion"
    ),
    ("sampler", "dpmpp_2m"): Component(
        "sampler/dpmpp_2m.py.j2", MATH, variant="solver_type", helpers=(LOG_SNR,)
    ),
    ("sampler.grid", "uniform"): Component("grid/uniform.py.j2"),
    ("sampler.grid", "edm"): Component("grid/edm.py.j2", MATH, helpers=(LOG_SNR,)),
    ("sampler.grid", "logsnr_uniform"): Component("grid/logsnr_uniform.py.j2", helpers=(LOG_SNR,)),
    ("sampler.grid", "shifted"): Component("grid/shifted.py.j2"),
    ("eval", "w2"): Component("eval/w2.py.j2", ("import math", "import numpy as np"), ("POT",)),
    ("eval", "fid"): Component(
        "eval/fid.py.j2",
        ("import math", "from collections.abc import Iterator"),
        ("torchmetrics", "Pillow"),
        "features",
    ),
}

# The template slot each section path fills in script.py.j2.
SLOTS: dict[str, str] = {
    "data": "data",
    "model": "model",
    "path": "path",
    "coupling": "coupling",
    "loss": "loss",
    "loss.prediction": "prediction",
    "weighting": "weighting",
    "weighting.time_sampling": "time_sampling",
    "sampler": "sampler",
    "sampler.grid": "grid",
    "eval": "eval",
}


def lookup(section: str, kind: str) -> Component:
    try:
        return REGISTRY[(section, kind)]
    except KeyError:
        # The schema admitted a kind nobody registered: a specc bug, not a user error.
        raise LookupError(f"no template registered for {section}.kind {kind!r}") from None
