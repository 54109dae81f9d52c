"""numpy port of Schedule-Free Prodigy, for tests/reference/schedule_free_prodigy_test.py.

The authors' one combined implementation is their AlgoPerf external-tuning submission:
facebookresearch/schedule_free, schedulefree/algoperf/external_tuning/schedule_free_prodigy/
submission.py, commit 70785b53e778d0e872c0bbb75ff4ee54ee10c291 (`ProdigyScheduleFree.step`,
and `update_params`, which sets the group's lr to a linear warmup over int(0.075·step_hint)
steps, (step + 1)/warmup, then 1). Ported line by line in float64, keeping the class defaults:
lr 1, betas (0.9, 0.9955), r 0.75, eps 1e-8, weight_decay 0, d0 1e-6, d_coef 1. The authors
keep exp_avg_sq, s and p0 in bfloat16 (GPU memory); the port keeps them in float64.

Between steps the model holds x (the averaged point); `step(grad_fn)` extrapolates to
y = β₁x + (1 − β₁)z, takes the gradient there (the closure), and returns x. `y()` is the point
the next gradient is taken at, the lab's training parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from math import sqrt

import numpy as np

Params = dict[str, np.ndarray]


def algoperf_learning_rate(global_step: int, step_hint: int) -> float:
  """`update_params`'s lr: a linear warmup over 7.5% of step_hint, then 1."""
  warmup = int(0.075 * step_hint)
  if global_step < warmup:
    return (global_step + 1) / warmup
  return 1.0


class ProdigyScheduleFree:

  def __init__(self, params: Params, lr: float = 1.0, betas: tuple[float, float] = (0.9, 0.9955),
               r: float = 0.75, eps: float = 1e-8, weight_decay: float = 0.0, d0: float = 1e-6,
               d_coef: float = 1.0):
    self.lr, self.betas, self.r, self.eps = lr, betas, r, eps
    self.weight_decay, self.d, self.d0, self.d_coef = weight_decay, d0, d0, d_coef
    self.d_numerator, self.k, self.weight_sum = 0.0, 0, 0.0
    self.p = {n: v.copy() for n, v in params.items()}  # the model's parameters: x between steps
    self.z = {n: v.copy() for n, v in params.items()}
    self.exp_avg_sq = {n: np.zeros_like(v) for n, v in params.items()}
    self.s = {n: np.zeros_like(v) for n, v in params.items()}
    self.p0 = {n: v.copy() for n, v in params.items()}

  def y(self) -> Params:
    beta1 = self.betas[0]
    return {n: self.p[n] * beta1 + (1 - beta1) * self.z[n] for n in self.p}

  def step(self, grad_fn: Callable[[Params], Params]) -> Params:
    beta1, beta2 = self.betas
    k, d, d_coef, lr, r = self.k, self.d, self.d_coef, self.lr, self.r
    dlr = d * lr
    sqrt_beta2 = sqrt(beta2)
    d_numerator = self.d_numerator * sqrt_beta2
    d_numerator_acum, d_denom = 0.0, 0.0

    for name in self.p:  # swap to the extrapolated point
      self.p[name] = self.p[name] * beta1 + (1 - beta1) * self.z[name]
    grads = grad_fn({n: v.copy() for n, v in self.p.items()})

    for name, grad in grads.items():
      z, p0 = self.z[name], self.p0[name]
      self.p[name] = (self.p[name] - (1 - beta1) * z) / beta1  # unextrapolate
      x0_minus_z = (p0 - z).ravel()
      d_numerator_acum += float(np.dot(grad.ravel(), x0_minus_z)) * (d * dlr)
      self.exp_avg_sq[name] = beta2 * self.exp_avg_sq[name] + d * d * (1 - beta2) * grad * grad
      self.s[name] = sqrt_beta2 * self.s[name] + d * dlr * grad
      d_denom += float(np.abs(self.s[name]).sum())

    d_numerator += d_numerator_acum
    if d_denom == 0:
      return {n: v.copy() for n, v in self.p.items()}
    d_hat = d_coef * d_numerator / d_denom
    d = max(d, d_hat)
    self.d_numerator, self.d = d_numerator, d

    weight = (k + 1) ** r
    self.weight_sum = self.weight_sum + weight
    ckp1 = weight / self.weight_sum
    for name, grad in grads.items():
      z = self.z[name]
      denom = np.sqrt(self.exp_avg_sq[name]) + d * self.eps
      z -= self.weight_decay * dlr * self.p[name]  # decoupled decay, at x
      z -= d * dlr * grad / denom
      self.p[name] = self.p[name] * (1 - ckp1) + ckp1 * z
    self.k = k + 1
    return {n: v.copy() for n, v in self.p.items()}
