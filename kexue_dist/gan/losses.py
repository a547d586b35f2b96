"""GAN loss families: the f-GAN divergences, the likelihood-ratio recipe, hinge and WGAN-GP.

Science: shared/docs/gan.md (Su Jianlin, kexue.fm 6016 and 7210; Nowozin et al. 2016; Basioti &
Moustakides 2020). Notation: p = data, q = generator, r = p/q, v = the discriminator's raw output.
Convention: larger v = "real".

Every family is one game written in v-space: the discriminator maximises

    E_p[phi(v_real)] + E_q[psi(v_fake)]

(f-GAN: phi = g(v), psi = -f*(g(v)); recipe: phi, psi as designed), so its loss is the negative of
that. All terms are fused expressions of v (softplus / logsigmoid, never log(sigmoid(.))).

Every family except ``hinge`` and ``wgan-gp`` also knows
  * ``output(v)``: the quantity its theory talks about (f-GAN: T = g(v); recipe: D = omega(r) at the
    optimum, e.g. t = sigmoid(v) for ce-prob),
  * ``optimal_output(log r)`` and ``optimal_v(log r)``: the pointwise optimum, a function of r alone,
  * ``f(log r)``: the integrand such that the value of the game at the optimum is E_q[f(r)]. For the
    f-GAN rows this is the table's f (so the value is D_f(P||Q); the ``gan`` row's f has
    f(1) = -2 log 2: value = 2 JS - log 4); for the recipe rows it is Su's d(r) = r phi(w(r)) + psi(w(r)).
  * ``log_ratio(v)``: the density-ratio estimate log r_hat implied by v (the inverse of optimal_v),
    which the ``logit`` generator uses.

Clamping (documented logit range): families whose terms contain exp(+-v) (kl, reverse-kl, neyman,
hellinger, jeffrey, exponential, kliep) clamp v to [-CLAMP, CLAMP] = [-30, 30] before the loss (exp(30)
~ 1e13: finite in fp32 for values and gradients; beyond the clamp the gradient is 0, so a critic cannot
run away). Losses are always evaluated in fp32 (bf16 logits are upcast first). ``lsif`` and
``pearson`` (quadratic in v) clamp at [-1e4, 1e4]. Logistic families (gan, js, ce-prob, tv) need no
clamp: softplus is stable everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from kexue_dist.errors import UserError

Tensor = torch.Tensor
LOG2 = math.log(2.0)
CLAMP = 30.0  # |v| bound for exp-based families (fp32)
QUAD_CLAMP = 1e4  # |v| bound for the quadratic families
GENERATORS = ("saddle", "non-saturating", "logit")


def _lambert_w_exp(a: Tensor, iters: int = 30) -> Tensor:
    """w = W(exp(a)), i.e. the root of w + log w = a, by Newton on y = log w (e^y + y = a).

    e^y + y is convex and increasing, so Newton converges monotonically from the first iterate; the
    start (y = a for a < 1, else log a) is within a few steps of the root everywhere."""
    y = torch.where(a < 1, a, torch.log(a.clamp_min(1.0)))
    for _ in range(iters):
        ey = torch.exp(y)
        step = (ey + y - a) / (ey + 1)
        y = y - step
        if bool((step.abs() <= 1e-12 * (1 + y.abs())).all()):
            break
    return torch.exp(y)


def jeffrey_conjugate(t: Tensor) -> Tensor:
    """f*(t) for f(u) = (u - 1) log u: no closed form in torch (it needs Lambert W).

    The maximiser is u(t) = 1 / W(e^{1 - t}); we find it with Newton (no gradient) and return
    t u - f(u) with u detached. By the envelope theorem d f*/dt = u, which is exactly the gradient
    this expression has, so values and gradients are both right without differentiating Newton."""
    with torch.no_grad():
        u = 1.0 / _lambert_w_exp(1.0 - t.detach().double())
        log_u = torch.log(u)
        u, log_u = u.to(t.dtype), log_u.to(t.dtype)
    return t * u - (u - 1.0) * log_u


def _jeffrey_log_ratio(v: Tensor) -> Tensor:
    """log r with v = log r + 1 - 1/r: log r = -log W(e^{1 - v}); d(log r)/dv = 1 / (1 + W) (implicit)."""
    with torch.no_grad():
        w = _lambert_w_exp(1.0 - v.detach().double())
        value, slope = (-torch.log(w)).to(v.dtype), (1.0 / (1.0 + w)).to(v.dtype)
    return value + (v - v.detach()) * slope


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # "f-gan" | "likelihood-ratio" | "critic"
    divergence: str  # what the generator minimises at the optimal discriminator
    phi: Callable[[Tensor], Tensor]  # real term (discriminator maximises E_p phi + E_q psi)
    psi: Callable[[Tensor], Tensor]  # fake term
    clamp: float | None = None
    output: Callable[[Tensor], Tensor] | None = None
    optimal_output: Callable[[Tensor], Tensor] | None = None  # of log r
    optimal_v: Callable[[Tensor], Tensor] | None = None  # of log r
    f: Callable[[Tensor], Tensor] | None = None  # of log r: value at the optimum = E_q[f(r)]
    log_ratio: Callable[[Tensor], Tensor] | None = None  # of v: log r_hat
    note: str = ""

    @property
    def has_optimum(self) -> bool:
        return self.optimal_output is not None

    def _v(self, v: Tensor) -> Tensor:
        v = v.float() if v.dtype in (torch.float16, torch.bfloat16) else v
        return v.clamp(-self.clamp, self.clamp) if self.clamp else v

    def d_objective(self, v_real: Tensor, v_fake: Tensor) -> Tensor:
        """The discriminator's objective (to maximise), batch means."""
        return self.phi(self._v(v_real)).mean() + self.psi(self._v(v_fake)).mean()

    def d_loss(self, v_real: Tensor, v_fake: Tensor) -> Tensor:
        return -self.d_objective(v_real, v_fake)

    def g_loss(self, v_fake: Tensor, generator: str = "non-saturating") -> Tensor:
        """Generator loss on the discriminator's raw outputs for generated samples.

        saddle: minimise the game's own fake term, E_q[psi(v)] (f-GAN: -E_q[f*(g(v))]).
        non-saturating: -E_q[phi(v)] (f-GAN's "alternative" -E_q[g(v)]; for ``gan`` this is the usual
        softplus(-v); for hinge and wgan-gp it is -E_q[v]).
        logit: -E_q[log r_hat(v)], which is KL(q || p) at the optimal discriminator (Su's "logit"
        generator; equal to -E_q[v] for the logit-link families gan, js, ce-prob, reverse-kl, kliep).
        Families without a ratio estimate (tv, hinge, wgan-gp) use -E_q[v]."""
        v = self._v(v_fake)
        if generator == "saddle":
            return self.psi(v).mean()
        if generator == "non-saturating":
            return -self.phi(v).mean()
        if generator == "logit":
            return -(self.log_ratio(v) if self.log_ratio else v).mean()
        raise UserError(f"generator: unknown {generator!r} (valid: {', '.join(GENERATORS)})")


def _sp(x: Tensor) -> Tensor:
    return F.softplus(x)


def _safe_log(x: Tensor) -> Tensor:
    return torch.log(x.clamp_min(1e-12))


def _exp(x: Tensor) -> Tensor:
    return torch.exp(x)


_FAMILIES = [
    # ---------------------------------------------------------------- f-GAN (Nowozin et al.)
    Family(
        "tv", "f-gan", "total variation 1/2 int |p - q|",
        phi=lambda v: 0.5 * torch.tanh(v), psi=lambda v: -0.5 * torch.tanh(v),
        output=lambda v: 0.5 * torch.tanh(v),
        optimal_output=lambda lr: 0.5 * torch.sign(lr),
        optimal_v=lambda lr: torch.where(lr == 0, 0.0, torch.sign(lr) * math.inf).to(lr.dtype),
        f=lambda lr: 0.5 * (torch.exp(lr) - 1).abs(),
        note="T* = sign(r - 1) / 2 sits at v = +-inf: the critic saturates and gives no ratio estimate",
    ),
    Family(
        "kl", "f-gan", "KL(P || Q)",
        phi=lambda v: v, psi=lambda v: -torch.exp(v - 1), clamp=CLAMP,
        output=lambda v: v, optimal_output=lambda lr: 1 + lr, optimal_v=lambda lr: 1 + lr,
        f=lambda lr: torch.exp(lr) * lr, log_ratio=lambda v: v - 1,
    ),
    Family(
        "reverse-kl", "f-gan", "KL(Q || P)",
        phi=lambda v: -torch.exp(-v), psi=lambda v: 1 - v, clamp=CLAMP,
        output=lambda v: -torch.exp(-v), optimal_output=lambda lr: -torch.exp(-lr), optimal_v=lambda lr: lr,
        f=lambda lr: -lr, log_ratio=lambda v: v,
    ),
    Family(
        "pearson", "f-gan", "Pearson chi2(P || Q) = int (p - q)^2 / q",
        phi=lambda v: v, psi=lambda v: -(v * v / 4 + v), clamp=QUAD_CLAMP,
        output=lambda v: v, optimal_output=lambda lr: 2 * torch.expm1(lr), optimal_v=lambda lr: 2 * torch.expm1(lr),
        f=lambda lr: torch.expm1(lr) ** 2, log_ratio=lambda v: _safe_log(1 + v / 2),
        note="infinite when the data has much heavier tails than the generator (var_p >= 2 var_q)",
    ),
    Family(
        "neyman", "f-gan", "Neyman chi2(P || Q) = int (p - q)^2 / p",
        phi=lambda v: -torch.expm1(-v), psi=lambda v: -(2 - 2 * torch.exp(-v / 2)), clamp=CLAMP,
        output=lambda v: -torch.expm1(-v), optimal_output=lambda lr: -torch.expm1(-2 * lr), optimal_v=lambda lr: 2 * lr,
        f=lambda lr: torch.expm1(lr) ** 2 * torch.exp(-lr), log_ratio=lambda v: v / 2,
        note="infinite when the generator has much heavier tails than the data (var_q >= 2 var_p)",
    ),
    Family(
        "hellinger", "f-gan", "squared Hellinger int (sqrt p - sqrt q)^2",
        phi=lambda v: -torch.expm1(-v), psi=lambda v: -torch.expm1(v), clamp=CLAMP,
        output=lambda v: -torch.expm1(-v), optimal_output=lambda lr: -torch.expm1(-lr / 2), optimal_v=lambda lr: lr / 2,
        f=lambda lr: torch.expm1(lr / 2) ** 2, log_ratio=lambda v: 2 * v,
    ),
    Family(
        "js", "f-gan", "2 JS(P, Q)",
        phi=lambda v: LOG2 - _sp(-v), psi=lambda v: LOG2 - _sp(v),
        output=lambda v: LOG2 - _sp(-v), optimal_output=lambda lr: LOG2 - _sp(-lr), optimal_v=lambda lr: lr,
        f=lambda lr: torch.exp(lr) * lr - (1 + torch.exp(lr)) * (_sp(lr) - LOG2), log_ratio=lambda v: v,
    ),
    Family(
        "gan", "f-gan", "2 JS(P, Q) - log 4 (the original GAN; = cross-entropy with logit link)",
        phi=lambda v: -_sp(-v), psi=lambda v: -_sp(v),
        output=lambda v: -_sp(-v), optimal_output=lambda lr: -_sp(-lr), optimal_v=lambda lr: lr,
        f=lambda lr: torch.exp(lr) * lr - (1 + torch.exp(lr)) * _sp(lr), log_ratio=lambda v: v,
    ),
    Family(
        "jeffrey", "f-gan", "Jeffrey KL(P || Q) + KL(Q || P)",
        phi=lambda v: v, psi=lambda v: -jeffrey_conjugate(v), clamp=CLAMP,
        output=lambda v: v, optimal_output=lambda lr: lr + 1 - torch.exp(-lr), optimal_v=lambda lr: lr + 1 - torch.exp(-lr),
        f=lambda lr: torch.expm1(lr) * lr,
        log_ratio=lambda v: _jeffrey_log_ratio(v),
        note="f* needs Lambert W: Newton iteration, gradient by the envelope theorem",
    ),
    # ---------------------------------------------------------------- likelihood-ratio recipe (Basioti & Moustakides)
    Family(
        "ce-prob", "likelihood-ratio", "2 JS(P, Q) - log 4 (cross-entropy, probability link)",
        phi=lambda v: -_sp(-v), psi=lambda v: -_sp(v),  # log t, log(1 - t) with t = sigmoid(v)
        output=lambda v: torch.sigmoid(v), optimal_output=lambda lr: torch.sigmoid(lr), optimal_v=lambda lr: lr,
        f=lambda lr: torch.exp(lr) * lr - (1 + torch.exp(lr)) * _sp(lr), log_ratio=lambda v: v,
        note="D = t = sigmoid(v) in (0, 1) with phi = log t, psi = log(1 - t): the same game as `gan` in v-space",
    ),
    Family(
        "exponential", "likelihood-ratio", "squared Hellinger - 2 (Su's exponential loss, omega = log(r) / 2)",
        phi=lambda v: -torch.exp(-v), psi=lambda v: -torch.exp(v), clamp=CLAMP,
        output=lambda v: v, optimal_output=lambda lr: lr / 2, optimal_v=lambda lr: lr / 2,
        f=lambda lr: -2 * torch.exp(lr / 2), log_ratio=lambda v: 2 * v,
    ),
    Family(
        "least-squares", "likelihood-ratio", "triangular discrimination int (p-q)^2/(p+q) - 2 (LSGAN)",
        phi=lambda v: -(v - 1) ** 2, psi=lambda v: -(v + 1) ** 2, clamp=QUAD_CLAMP,
        output=lambda v: v, optimal_output=lambda lr: torch.tanh(lr / 2), optimal_v=lambda lr: torch.tanh(lr / 2),
        f=lambda lr: -4 * torch.sigmoid(lr),  # -4 r / (1 + r)
        log_ratio=lambda v: 2 * torch.atanh(v.clamp(-1 + 1e-6, 1 - 1e-6)),
        note="D* = (p - q) / (p + q) in [-1, 1]",
    ),
    Family(
        "kliep", "likelihood-ratio", "KL(P || Q) - 1 (density-ratio KLIEP: t = e^v, phi = log t, psi = -t)",
        phi=lambda v: v, psi=lambda v: -torch.exp(v), clamp=CLAMP,
        output=lambda v: torch.exp(v), optimal_output=lambda lr: torch.exp(lr), optimal_v=lambda lr: lr,
        f=lambda lr: torch.exp(lr) * (lr - 1), log_ratio=lambda v: v,
    ),
    Family(
        "lsif", "likelihood-ratio", "(Pearson chi2(P || Q) + 1) / 2 (least-squares importance fitting: t = v)",
        phi=lambda v: v, psi=lambda v: -0.5 * v * v, clamp=QUAD_CLAMP,
        output=lambda v: v, optimal_output=lambda lr: torch.exp(lr), optimal_v=lambda lr: torch.exp(lr),
        f=lambda lr: 0.5 * torch.exp(2 * lr), log_ratio=lambda v: _safe_log(v),
        note="T* = r itself: unbounded where the generator misses data, the least stable recipe member",
    ),
    # ---------------------------------------------------------------- critics without an r-optimum
    Family(
        "hinge", "critic", "hinge (no optimum as a function of r alone)",
        phi=lambda v: -F.relu(1 - v), psi=lambda v: -F.relu(1 + v),
    ),
    Family(
        "wgan-gp", "critic", "Wasserstein-1 (critic Lipschitz via a gradient penalty)",
        phi=lambda v: v, psi=lambda v: -v,
        note="add gradient_penalty(); the critic is a global potential, not a function of r",
    ),
]

FAMILIES: dict[str, Family] = {f.name: f for f in _FAMILIES}
FAMILY_NAMES: list[str] = [f.name for f in _FAMILIES]


def get_family(name: str) -> Family:
    if name not in FAMILIES:
        raise UserError(f"unknown GAN loss family {name!r} (valid: {', '.join(FAMILY_NAMES)})")
    return FAMILIES[name]


def parse_families(text: str) -> list[str]:
    """"a,b,c" -> validated names (UserError listing the valid ones on a typo); "all" = every family."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(FAMILY_NAMES)
    if not names:
        raise UserError(f"--families: empty (valid: {', '.join(FAMILY_NAMES)})")
    for n in names:
        get_family(n)
    return names


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, form: str = "two-sided") -> Tensor:
    """WGAN-GP penalty on random interpolates between real and fake samples (per-sample gradient norm).

    two-sided: E[(||grad|| - 1)^2] (Gulrajani et al. 2017); one-sided: E[relu(||grad|| - 1)], unsquared,
    as in Su's Fashion-MNIST toy."""
    eps = torch.rand(real.size(0), *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    out = critic(x).float().sum()
    (grad,) = torch.autograd.grad(out, x, create_graph=True)
    norm = grad.flatten(1).float().norm(dim=1)
    if form == "two-sided":
        return (norm - 1).pow(2).mean()
    if form == "one-sided":
        return F.relu(norm - 1).mean()
    raise ValueError(f"gradient penalty form must be two-sided or one-sided, got {form!r}")
