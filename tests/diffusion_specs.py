"""Spec texts for the diffusion/flow-matching tests: a tiny base plus the sections under test."""

from __future__ import annotations

BASE = (
    "version: 1\n"
    "data: {kind: toy2d, distribution: moons}\n"
    "model: {kind: mlp, hidden: 16, depth: 1, time_dim: 8}\n"
    "eval: {kind: w2, plot: false}\n"
)

# Each path with train/sampler ranges that every prediction below accepts on it.
PATHS = {
    "rectified": "path: {kind: rectified}\n",
    "rectified_sigma_min": "path: {kind: rectified, sigma_min: 0.05}\n",
    "vp_cosine": "path: {kind: vp_cosine}\n",
    "vp_linear": "path: {kind: vp_linear, beta_min: 0.1, beta_max: 20.0}\n",
    "edm": "path: {kind: edm, sigma_min: 0.002, sigma_max: 80.0}\n",
    "polynomial": "path: {kind: polynomial, n: 2.5}\n",
}
SAFE_RANGES = "train: {t_min: 0.001, t_max: 0.999}\nsampler: {kind: euler, t_max: 0.999}\n"


def spec(*parts: str) -> str:
    """BASE plus the given section lines (later sections may not repeat earlier keys)."""
    return BASE + "".join(parts)
