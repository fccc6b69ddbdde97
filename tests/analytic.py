"""Closed-form references for testing generated scripts against math rather than against themselves.

For Gaussian data x ~ N(mu, s^2 I) and any path z_t = alpha_t x + sigma_t eps, z_t is Gaussian
with mean alpha_t mu and variance v_t = alpha_t^2 s^2 + sigma_t^2, and the marginal velocity
E[u | z_t] with u = d(alpha) x + d(sigma) eps is affine in z:

    u*(z, t) = a' mu + (a' a s^2 + s' sg) / v_t * (z - a mu)

with a = alpha_t, sg = sigma_t and primes for time derivatives.

The ODE dz/dt = u*(z, t) keeps the standardised coordinate (z - alpha_t mu)/sqrt(v_t) fixed, so the
exact flow map from time t0 to 0 is z_0 = mu + s * (z_t0 - alpha_t0 mu)/sqrt(v_t0).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class GaussianVelocity(nn.Module):
    """The exact marginal velocity of N(mu, s^2 I) data under a script's path functions."""

    def __init__(self, module, mu: float, s: float, scale_eps: float = 1.0):
        super().__init__()
        self.m = module
        self.mu = mu
        self.s = s
        self.scale_eps = scale_eps  # >1 inflates the implied eps prediction (exposure-bias tests)

    def forward(self, z: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        m = self.m
        tt = t.to(torch.float64).reshape((-1,) + (1,) * (z.dim() - 1))
        a, sg, da, ds = m.alpha(tt), m.sigma(tt), m.d_alpha(tt), m.d_sigma(tt)
        z64 = z.to(torch.float64)
        v = a * a * self.s**2 + sg * sg
        u = da * self.mu + (da * a * self.s**2 + ds * sg) / v * (z64 - a * self.mu)
        return u.to(z.dtype)


def exact_endpoint(module, z_start: Tensor, t_start: float, mu: float, s: float) -> Tensor:
    """Where the exact ODE carries z_start at t_start to at t = 0."""
    t = torch.tensor(t_start, dtype=torch.float64)
    a, sg = float(module.alpha(t)), float(module.sigma(t))
    v = a * a * s**2 + sg * sg
    return mu + s * (z_start.to(torch.float64) - a * mu) / math.sqrt(v)


def loglog_slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(ys) against log(xs)."""
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    num = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True))
    den = sum((a - mx) ** 2 for a in lx)
    return num / den
