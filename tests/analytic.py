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
        a, sg, da, ds = path_and_derivatives(m, tt)
        z64 = z.to(torch.float64)
        v = a * a * self.s**2 + sg * sg
        u = da * self.mu + (da * a * self.s**2 + ds * sg) / v * (z64 - a * self.mu)
        return u.to(z.dtype)


def path_and_derivatives(module, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """alpha_t, sigma_t and their time derivatives by autograd of the script's alpha and sigma
    (not its own d_alpha/d_sigma, which a pruned script may not have and which are under test)."""
    with torch.enable_grad():
        tt = t.detach().to(torch.float64).requires_grad_(True)
        a, sg = module.alpha(tt), module.sigma(tt)
        da, ds = (
            torch.autograd.grad(f.sum(), tt, retain_graph=True)[0]
            if f.requires_grad
            else torch.zeros_like(tt)  # constant in t (e.g. alpha_t = 1 on the edm path)
            for f in (a, sg)
        )
    return a.detach(), sg.detach(), da.detach(), ds.detach()


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


def gaussian_posterior(module, z: Tensor, t: Tensor, mu: float, s: float) -> tuple[Tensor, Tensor]:
    """(E[x | z_t], E[eps | z_t]) for x ~ N(mu, s^2 I): with v = alpha^2 s^2 + sigma^2,
    x_hat = mu + alpha s^2 (z - alpha mu)/v and eps_hat = sigma (z - alpha mu)/v (float64)."""
    tt = _times(t.to(torch.float64), z)
    a, sg = module.alpha(tt), module.sigma(tt)
    centred = z.to(torch.float64) - a * mu
    v = a * a * s**2 + sg * sg
    return mu + a * s**2 * centred / v, sg * centred / v


def _times(t: Tensor, z: Tensor) -> Tensor:
    """t shaped to broadcast against z; one element when all are equal (as in a sampler step), so
    the path functions run once instead of once per sample."""
    if t.numel() > 1 and bool((t == t[0]).all()):
        t = t[:1]
    return t.reshape((-1,) + (1,) * (z.dim() - 1))


def edm_radius(module, t: Tensor, sigma_data: float) -> Tensor:
    """R_t = sqrt(sigma_t^2 + sigma_data^2 alpha_t^2): EDM's c_in acting on z is 1/R_t."""
    return torch.sqrt(module.sigma(t) ** 2 + (sigma_data * module.alpha(t)) ** 2)


class GaussianModel(nn.Module):
    """The exact network for N(mu, s^2 I) data in the output space of the script's prediction
    (velocity, epsilon, x0, v, score or edm), written from the definitions of each output, not from
    the script's conversions. For edm it takes EDM's inputs (z/R_t, c_noise = -lambda_t/8)."""

    def __init__(
        self, module, mu: float, s: float, output: str | None = None, inflate_eps: float = 1.0
    ):
        super().__init__()
        self.m = module
        self.mu = mu
        self.s = s
        self.output = output or module.CONFIG.loss.prediction.kind
        # Exposure-bias tests: eps_hat -> c*eps_hat with x_hat from z = alpha*x_hat + sigma*eps_hat
        # (as a network whose noise prediction is too large by c), where alpha_t >= 1e-3.
        self.inflate_eps = inflate_eps

    def forward(self, z: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        m = self.m
        t64 = t.to(torch.float64)
        if self.output == "edm":
            sd = m.CONFIG.loss.prediction.sigma_data
            t64 = m.time_from_log_snr(-8.0 * t64)  # the network's time input is c_noise
            z = z.to(torch.float64) * edm_radius(m, _times(t64, z), sd)
        x_hat, e_hat = gaussian_posterior(m, z, t64, self.mu, self.s)
        tt = _times(t64, z)
        a, sg, da, ds = path_and_derivatives(m, tt)
        if self.inflate_eps != 1.0:
            keep = a < 1e-3
            e_hat = torch.where(keep, e_hat, self.inflate_eps * e_hat)
            safe_a = torch.where(keep, torch.ones_like(a), a)
            x_hat = torch.where(keep, x_hat, (z.to(torch.float64) - sg * e_hat) / safe_a)
        if self.output == "velocity":
            out = da * x_hat + ds * e_hat
        elif self.output == "epsilon":
            out = e_hat
        elif self.output == "x0":
            out = x_hat
        elif self.output == "v":
            out = a * e_hat - sg * x_hat
        elif self.output == "score":
            out = -e_hat / sg
        elif self.output == "edm":
            r = edm_radius(m, tt, sd)
            c_skip_z, c_out = sd * sd * a / (r * r), sg * sd / r  # on z, not on z/alpha
            out = (x_hat - c_skip_z * z.to(torch.float64)) / c_out
        else:
            raise ValueError(self.output)
        return out.to(z.dtype)
