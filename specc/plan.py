"""plan: ResolvedSpec -> Plan (which partial fills each slot, and everything templates read).

All decisions live here, so the templates stay Python with a few holes: the partial for each
chosen kind (from the registry), the import lines, the Config dataclasses with their comments
(from the schema descriptions), the docstring text, and a few build-time switches that prune code
(e.g. no clipping code when train.grad_clip is 0).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from specc.checks import coupling_condition, fid_features
from specc.literals import py_comment, py_literal
from specc.registry import SLOTS, Component, lookup
from specc.resolve import ResolvedSpec
from specc.schema import deref, describe, load_schema, object_properties

LINE = 100

BASE_IMPORTS = (
    "import argparse",
    "import copy",
    "import json",
    "import os",
    "import sys",
    "import time",
    "from dataclasses import asdict, dataclass, replace",
    "from pathlib import Path",
    "from collections.abc import Iterator",
    "from typing import NoReturn",
    "import torch",
    "from torch import Tensor, nn",
)
THIRD_PARTY = ("numpy", "torch")

ACTIVATIONS = {"silu": "nn.SiLU", "gelu": "nn.GELU", "relu": "nn.ReLU", "tanh": "nn.Tanh"}
IMAGE_MODELS = ("unet", "dit")


@dataclass(frozen=True)
class ConfigField:
    line: str  # `name: annotation = literal  # comment`
    comment_above: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConfigClass:
    name: str
    doc: str
    fields: tuple[ConfigField, ...]


@dataclass(frozen=True)
class Plan:
    resolved: ResolvedSpec
    script_label: str  # how the docstring names the script, e.g. generated/toy_moons.py
    partials: dict[str, str]
    components: dict[str, Component]
    context: dict[str, Any] = field(default_factory=dict)


def _annotation(node: dict, class_name: str | None) -> str:
    if class_name:
        return class_name
    if "const" in node:
        return type(node["const"]).__name__
    kind = node.get("type")
    if kind == "array":
        item = _annotation(deref(node.get("items", {})), None)
        return f"tuple[{item}, ...]"
    if kind is None and "enum" in node:
        kinds = {type(v).__name__ for v in node["enum"]}
        return kinds.pop() if len(kinds) == 1 else "object"
    return {"integer": "int", "number": "float", "boolean": "bool", "string": "str"}.get(
        kind, "object"
    )


def _class_name(path: tuple) -> str:
    if not path:
        return "Config"
    return "".join(p.title().replace("_", "") for p in path) + "Config"


def _config_classes(data: dict) -> list[ConfigClass]:
    """One frozen dataclass per mapping of the resolved spec, nested ones first."""
    schema = load_schema()
    classes: list[ConfigClass] = []

    def visit(node: dict, value: dict, path: tuple) -> str:
        node = deref(node)
        props = object_properties(node, value)
        fields: list[ConfigField] = []
        for key, sub in props.items():
            if key not in value:
                continue
            v = value[key]
            sub_node = deref(sub)
            nested = visit(sub_node, v, path + (key,)) if isinstance(v, dict) else None
            literal = (
                f"{nested}()" if nested else py_literal(tuple(v) if isinstance(v, list) else v)
            )
            line = f"{key}: {_annotation(sub_node, nested)} = {literal}"
            comment = py_comment(" ".join(describe(sub).split())) if not nested else ""
            if comment and 4 + len(line) + 4 + len(comment) <= LINE:  # indent, "  # "
                fields.append(ConfigField(f"{line}  # {comment}"))
            elif comment:
                fields.append(ConfigField(line, tuple(textwrap.wrap(comment, LINE - 6))))
            else:
                fields.append(ConfigField(line))
        name = _class_name(path)
        branch_doc = describe(node)
        if path and "kind" in value:
            branch_doc = describe(deref(_branch(path, value["kind"])))
        if path:
            doc = f"{'.'.join(path)}: {' '.join(branch_doc.split())}"
        else:
            doc = "The whole resolved spec; CONFIG below is its only instance."
        doc = "\n    ".join(textwrap.wrap(doc, LINE - 10))
        classes.append(ConfigClass(name, doc, tuple(fields)))
        return name

    def _branch(path: tuple, kind: str) -> dict:
        node: dict = schema
        value: Any = data
        for part in path:
            node = object_properties(node, value)[part]
            value = value[part]
        node = deref(node)
        for clause in node.get("allOf", []):
            if clause.get("if", {}).get("properties", {}).get("kind", {}).get("const") == kind:
                return clause["then"]
        return node

    visit(schema, data, ())
    return classes


def _kind_sections(data: dict) -> dict[str, str]:
    """{dotted section path: chosen kind} for every mapping that has a `kind`."""
    out: dict[str, str] = {}

    def walk(value: Any, path: tuple) -> None:
        if isinstance(value, dict):
            if path and isinstance(value.get("kind"), str):
                out[".".join(path)] = value["kind"]
            for k, v in value.items():
                walk(v, path + (k,))

    walk(data, ())
    return out


def _imports(components: dict[str, Component], extra: tuple[str, ...]) -> dict[str, list[str]]:
    lines = set(BASE_IMPORTS) | set(extra)
    for comp in components.values():
        lines.update(comp.imports)

    def module(line: str) -> str:
        return line.split()[1].split(".")[0]

    def order(line: str) -> tuple:
        return (line.startswith("from "), module(line), line)

    stdlib = sorted((ln for ln in lines if module(ln) not in THIRD_PARTY), key=order)
    third = sorted((ln for ln in lines if module(ln) in THIRD_PARTY), key=order)
    return {"stdlib": stdlib, "third_party": third}


def _header(resolved: ResolvedSpec) -> str:
    source = py_comment(resolved.source)
    lines = [
        f"# Generated by specc from {source}; spec sha256 {resolved.sha256}.",
        f"# Edit the spec and rebuild with `specc build {source}`; do not edit this file.",
    ]
    for text in resolved.overrides:
        lines.append(f"# Built with --set {py_comment(text)}")
    return "\n".join(lines)


def _summary(data: dict) -> str:
    d, m, p = data["data"], data["model"], data["path"]
    what = d["kind"] + (f"/{d['distribution']}" if "distribution" in d else "")
    return (
        f"{data['name']}: {data['loss']['kind']} on the {p['kind']} path, "
        f"{m['kind']} on {what}, {data['coupling']['kind']} coupling, "
        f"{data['sampler']['kind']} sampler."
    )


def _docstring(data: dict, script: str, packages: list[str]) -> str:
    name = data["name"]
    parts = [_summary(data), ""]
    if data.get("description", "").strip():
        for paragraph in data["description"].strip().split("\n\n"):
            parts += textwrap.wrap(paragraph, LINE - 4, replace_whitespace=True) + [""]
    parts += [
        "Run (one GPU, or the CPU when there is none):",
        f"    python {script} --out runs/{name}",
        "Many GPUs (one process per GPU; DDP turns on under torchrun):",
        f"    torchrun --standalone --nproc_per_node=4 {script} --out runs/{name}",
        "CPU smoke run:",
        f"    python {script} --device cpu --max-steps 20 --out runs/{name}_smoke",
        "Resume from the newest checkpoint:",
        f"    python {script} --out runs/{name} --resume latest",
        "",
        "Needs: "
        + ", ".join(["torch"] + packages)
        + " (pip install "
        + " ".join(packages + ["torch"])
        + ").",
        "Time convention: z_t = alpha_t*x + sigma_t*eps, t = 0 is data and t = 1 is noise; the",
        "velocity u_t = dz_t/dt points from data to noise and samplers integrate from t = 1 to 0.",
        "",
    ]
    return "\n".join(parts)


def _coupling_context(data: dict) -> dict[str, Any]:
    """What the coupling partials need: the condition sub-partial (who is paired with whom), the
    helper partials (cost, exact assignment), whether pairing draws random numbers (then couple()
    takes a generator) and the build-time option values that prune code."""
    c = data["coupling"]
    kind = c["kind"]
    condition = coupling_condition(data)
    helpers = []
    if kind in ("exact_ot", "sinkhorn", "stable"):
        helpers.append("coupling/cost.py.j2")
    if kind == "exact_ot" or c.get("on_failure") == "exact_ot":
        helpers.append("coupling/assignment.py.j2")
    random = kind == "sinkhorn" or c.get("pairing") == "resample_torchcfm"
    return {
        "coupling_condition": f"coupling/condition/{condition}.py.j2" if condition else "",
        "coupling_helpers": helpers,
        "eval_helpers": [],
        "coupling_generator": random,
        "generator_arg": ", generator" if random else "",
        "pairing": c.get("pairing", ""),
        "on_failure": c.get("on_failure", ""),
        "solver": c.get("solver", "scipy"),
    }


def _loss_context(loss: dict) -> dict[str, Any]:
    """Build-time switches of the loss partials: Input Perturbation, and for reflexflow which of
    ADR and FC are on and the option values that pick their code (METHODS 7.8, 8.2-8.3)."""
    ip = loss.get("input_perturbation")
    adr, fc = loss.get("adr"), loss.get("fc")
    warmup = loss.get("warmup_steps", 0) > 0
    return {
        "ip": ip is not None,
        "ip_target": ip["target"] if ip else "",
        "adr": adr is not None,
        "fc": fc is not None,
        "adr_form": adr["form"] if adr else "",
        "detach_target": bool(adr and adr["detach_target"]),
        "fc_weight": fc["weight"] if fc else "",
        "fc_delta": fc["delta"] if fc else "",
        "keep_fm": bool(fc and fc["keep_fm"]),
        "t1_rule": loss.get("t1_rule", ""),
        "detach_rollout": bool(loss.get("detach_rollout")),
        "p_apply_partial": loss.get("p_apply", 1.0) < 1.0,
        "rf_warmup": warmup,
        # loss_fn takes the training step only when a warm-up needs it
        "loss_step_arg": ", step" if warmup else "",
    }


def make_plan(resolved: ResolvedSpec, script_label: str | None = None) -> Plan:
    data = resolved.data
    chosen = _kind_sections(data)
    partials: dict[str, str] = {}
    components: dict[str, Component] = {}
    variants: dict[str, str] = {}
    for section, kind in chosen.items():
        if section not in SLOTS:
            continue
        comp = lookup(section, kind)
        components[section] = comp
        partials[SLOTS[section]] = comp.template
        if comp.variant:
            section_value = resolved.get(section)
            stem = comp.template.rsplit(".py.j2", 1)[0]
            variants[SLOTS[section]] = f"{stem}/{section_value[comp.variant]}.py.j2"
    for comp in list(components.values()):
        for slot, template in comp.fills:  # e.g. dopri5, which has no grid, fills the grid slot
            partials.setdefault(slot, template)
    path = data["path"]
    if path["kind"] == "rectified" and path["sigma_min"] > 0:
        # the plain rectified path keeps its exact simple forms; sigma_min > 0 needs general ones
        partials["path"] = "path/rectified_sigma_min.py.j2"
    fid_imports: tuple[str, ...] = ()
    if data["eval"]["kind"] == "fid":
        variants["eval"] = f"eval/fid/{fid_features(data)}.py.j2"
        digits = fid_features(data) == "digits"
        fid_imports = ("import hashlib",) if digits else ()
    missing = sorted(set(SLOTS.values()) - set(partials))
    if missing:
        raise LookupError(f"no partial chosen for slots {missing}")

    train = data["train"]
    # Epsilon Scaling (METHODS 7.2): absent means off, and then no code for it is emitted at all.
    es = data["sampler"].get("epsilon_scaling")
    adaptive = data["sampler"]["kind"] == "dopri5"  # picks its own steps: no grid, no --steps
    if es:
        variants["epsilon_scaling"] = f"sampler/epsilon_scaling/{es['kind']}.py.j2"
    # Shared helpers of the sampler section (scalar path functions, noise), each emitted once.
    sampler_helpers = ["sampler/_common.py.j2"]
    for section in ("sampler", "sampler.grid"):
        for helper in components[section].helpers if section in components else ():
            if helper not in sampler_helpers:
                sampler_helpers.append(helper)
    if es:
        sampler_helpers.append("sampler/epsilon_scaling.py.j2")
    # How loss_fn weights the output's squared error: W_v alone when the output is the velocity,
    # nothing for output_mse (W_v = 1/g^2), else W_v*g^2 with g the output-to-velocity gain.
    if data["weighting"]["kind"] == "output_mse":
        loss_form = "output"
    elif data["loss"]["prediction"]["kind"] == "velocity":
        loss_form = "velocity"
    else:
        loss_form = "gain"
    diagnostics: list[tuple[str, str]] = []  # (function name or "" for helpers, partial)
    commands: list[tuple[str, str]] = [
        ("sample", "train/commands/sample.py.j2"),
        ("eval", "train/commands/eval.py.j2"),
        ("write-pairs", "train/commands/write_pairs.py.j2"),
    ]
    if es:
        commands.append(("tune-es", "train/commands/tune_es.py.j2"))
    extra_imports: tuple[str, ...] = ("import contextlib", "import random", *fid_imports)
    coupling = _coupling_context(data)
    ev = data["eval"]
    if ev.get("transport_cost"):
        diagnostics.append(("pair_cost_diagnostics", "eval/transport_cost.py.j2"))
    if ev.get("straightness") or ev.get("few_step"):
        diagnostics.append(("flow_diagnostics", "eval/flow.py.j2"))
    if ev.get("velocity_gap") or ev.get("frequency"):
        diagnostics.append(("", "eval/rollout.py.j2"))  # helpers shared by the two below
    if ev.get("velocity_gap"):
        diagnostics.append(("velocity_gap_diagnostics", "eval/velocity_gap.py.j2"))
    if ev.get("frequency"):
        diagnostics.append(("frequency_diagnostics", "eval/frequency.py.j2"))
    if ev.get("exposure_bias"):
        diagnostics.append(("exposure_bias_diagnostics", "eval/exposure_bias.py.j2"))
    if ev.get("transport_cost"):
        # The cost and the exact assignment, in the eval section unless the coupling has them.
        needed = ["coupling/cost.py.j2", "coupling/assignment.py.j2"]
        coupling["eval_helpers"] = [h for h in needed if h not in coupling["coupling_helpers"]]
    if train["prefetch"] > 0:
        extra_imports += (
            "import queue",
            "import threading",
            "from collections.abc import Callable",
        )
    if train["lr_schedule"] == "cosine":
        extra_imports += ("import math",)
    if es:
        extra_imports += ("from collections.abc import Callable",)
    packages = sorted({p for c in components.values() for p in c.packages})
    if "coupling/assignment.py.j2" in coupling["coupling_helpers"] + coupling["eval_helpers"]:
        packages = sorted(set(packages) | {"POT" if coupling["solver"] == "pot" else "scipy"})
    if coupling["solver"] == "pot":
        extra_imports += ("import numpy as np",)
    if data["eval"].get("plot"):
        packages = sorted(set(packages) | {"Pillow"})
    if data["eval"]["kind"] == "fid" and fid_features(data) == "inception":
        packages = sorted(set(packages) | {"torch-fidelity"})
    model = data["model"]
    class_cond = model.get("num_classes", 0) > 0
    image_model = model["kind"] in IMAGE_MODELS
    if any(c.imports and "import numpy as np" in c.imports for c in components.values()):
        packages = sorted(set(packages) | {"numpy"})
    script = script_label or f"generated/{data['name']}.py"
    context: dict[str, Any] = {
        "header": _header(resolved),
        "docstring": _docstring(data, script, packages),
        "imports": _imports(components, extra_imports),
        "spec_lines": resolved.yaml().splitlines(keepends=True),
        "sha256": resolved.sha256,
        "config_classes": _config_classes(data),
        "partials": partials,
        "activation": ACTIVATIONS.get(data["model"].get("activation", ""), ""),
        "plot": bool(data["eval"].get("plot")),
        "grad_clip": train["grad_clip"] > 0,
        "lr_schedule": train["lr_schedule"],
        "ema_warmup": train["ema_warmup"],
        "variants": variants,
        # Extra eval functions: each partial defines a function (model, rt, step, out_dir) -> dict
        # of metrics that run_eval and the eval command call after evaluate().
        "diagnostics": [name for name, _ in diagnostics if name],
        "diagnostic_partials": [template for _, template in diagnostics],
        # Script commands besides train: each partial defines add_<name>_arguments(commands) and
        # cmd_<name>(rt, args).
        "commands": [{"name": n, "ident": n.replace("-", "_"), "template": t} for n, t in commands],
        "prefetch": train["prefetch"] > 0,
        "init_from": bool(train["init_from"]),
        "sampler_helpers": sampler_helpers,
        "loss_form": loss_form,
        **_loss_context(data["loss"]),
        "time_shift": data["weighting"]["time_sampling"]["shift"] != 1.0,
        # Images: the model and data families, class conditioning (label dropout in training,
        # classifier-free guidance and per-seed labels at sampling) and the training extras.
        "image_data": data["data"]["kind"] != "toy2d",
        "image_model": image_model,
        "class_cond": class_cond,
        "guided": class_cond and model["guidance_scale"] != 1.0,
        "scale_shift": bool(model.get("scale_shift_norm")),
        "hflip": bool(data["data"].get("hflip")),
        "grad_accum": train["grad_accum"] > 1,
        "fp16": train["precision"] == "fp16",
        "throughput": "images_per_s" if data["data"]["kind"] != "toy2d" else "samples_per_s",
        "batch_fn": "training_batch" if class_cond else "coupled_batch",
        **coupling,
        "straightness": bool(ev.get("straightness")),
        "few_step": bool(ev.get("few_step")),
        "adaptive_sampler": adaptive,
        # Samplers: sample_steps(...) yields every state; with Epsilon Scaling every evaluation goes
        # through predict_scaled(..., lam) with the step's lambda from a schedule(t, i, n).
        "es": bool(es),
        "es_kind": es["kind"] if es else "",
        "predict_fn": "predict_scaled" if es else "predict",
        "lam_arg": ", lam" if es else "",
        "sampler_start_time": (
            "CONFIG.sampler.t_max" if adaptive else "time_grid(steps or CONFIG.sampler.steps)[0]"
        ),
        "eb_batch": "CONFIG.eval.batch_size" if ev["kind"] == "fid" else "None",
    }
    return Plan(resolved, script, partials, components, context)
