"""data: where the training examples come from.

Traits: `image` (images rather than 2-D points); derived: `shape` (of one example), `labelled`
(the data carries class labels) and `classes` (how many labels it has, 0 when open-ended).
"""

from __future__ import annotations

from specc.components import Unit


def points(_spec: dict) -> dict:
    return {"shape": (2,), "labelled": False, "classes": 0}


def digits(spec: dict) -> dict:
    size = spec["data"]["size"]
    return {"shape": (1, size, size), "labelled": True, "classes": 10}


def cifar10(_spec: dict) -> dict:
    return {"shape": (3, 32, 32), "labelled": True, "classes": 10}


def celeba(spec: dict) -> dict:
    size = spec["data"]["size"]
    return {"shape": (3, size, size), "labelled": False, "classes": 0}


def imagefolder(spec: dict) -> dict:
    d = spec["data"]
    return {"shape": (d["channels"], d["size"], d["size"]), "labelled": d["labels"], "classes": 0}


def tensor(spec: dict) -> dict:
    d = spec["data"]
    return {"shape": tuple(d["shape"]), "labelled": bool(d["labels_path"]), "classes": 0}


UNITS = (
    Unit("data", "toy2d", {"image": False}, derive=points),
    Unit("data", "digits", {"image": True}, derive=digits),
    Unit("data", "cifar10", {"image": True}, derive=cifar10),
    Unit("data", "celeba", {"image": True}, derive=celeba),
    Unit("data", "imagefolder", {"image": True}, derive=imagefolder),
    Unit("data", "tensor", {"image": True}, derive=tensor),
)
