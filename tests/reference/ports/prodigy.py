"""numpy port of Prodigy, for tests/reference/prodigy_test.py.

Ported line by line, in float64, from `Prodigy.step` of konstmish/prodigy,
prodigyopt/prodigy.py, commit 3efb213ee8af5a6bf76f28726398433a847b38e9, keeping its defaults:
betas (0.9, 0.999), beta3 = √β₂, eps 1e-8, weight_decay 0, decouple True,
use_bias_correction False, safeguard_warmup False, d0 1e-6, d_coef 1, growth_rate inf.
One parameter group (so `lr` is the group's learning rate, set by the caller each step as a
PyTorch scheduler would), slice_p 1, no FSDP. A step whose d denominator is 0 (every step
with lr = 0) returns before touching d, the numerator, k or the parameters, as the reference
does.
"""

from __future__ import annotations

import math

import numpy as np

Params = dict[str, np.ndarray]


class Prodigy:

  def __init__(self, params: Params, betas: tuple[float, float] = (0.9, 0.999),
               beta3: float | None = None, eps: float = 1e-8, weight_decay: float = 0.0,
               decouple: bool = True, use_bias_correction: bool = False,
               safeguard_warmup: bool = False, d0: float = 1e-6, d_coef: float = 1.0,
               growth_rate: float = float("inf")):
    self.betas, self.beta3, self.eps = betas, beta3, eps
    self.weight_decay, self.decouple = weight_decay, decouple
    self.use_bias_correction, self.safeguard_warmup = use_bias_correction, safeguard_warmup
    self.d0, self.d_coef, self.growth_rate = d0, d_coef, growth_rate
    self.d, self.d_max, self.d_numerator, self.k = d0, d0, 0.0, 0
    self.params = {k: np.array(v, np.float64) for k, v in params.items()}
    self.state: dict[str, dict[str, np.ndarray]] = {}

  def step(self, grads: Params, lr: float) -> Params:
    """One `Prodigy.step` at group learning rate `lr`; returns the parameters after it."""
    d_denom = 0.0
    beta1, beta2 = self.betas
    beta3 = self.beta3 if self.beta3 is not None else math.sqrt(beta2)
    k, d, d_max, d_coef, d0 = self.k, self.d, self.d_max, self.d_coef, self.d0
    if self.use_bias_correction:
      bias_correction = ((1 - beta2 ** (k + 1)) ** 0.5) / (1 - beta1 ** (k + 1))
    else:
      bias_correction = 1
    dlr = d * lr * bias_correction
    d_numerator = self.d_numerator * beta3
    delta_numerator = 0.0
    grads = {key: np.array(g, np.float64) for key, g in grads.items()}

    for key, p in self.params.items():
      grad = grads[key]
      if self.weight_decay != 0 and not self.decouple:
        grad += self.weight_decay * p
      if key not in self.state:
        self.state[key] = {"s": np.zeros(p.size), "p0": p.ravel().copy(),
                           "exp_avg_sq": np.zeros_like(p)}
        if beta1 > 0:
          self.state[key]["exp_avg"] = np.zeros_like(p)
      state = self.state[key]
      s, p0 = state["s"], state["p0"]
      if lr > 0.0:
        sliced_grad = grad.ravel()
        delta_numerator += (d / d0) * dlr * np.dot(sliced_grad, p0 - p.ravel())
        if beta1 > 0:
          state["exp_avg"] = state["exp_avg"] * beta1 + d * (1 - beta1) * grad
        state["exp_avg_sq"] = state["exp_avg_sq"] * beta2 + d * d * (1 - beta2) * grad * grad
        if self.safeguard_warmup:
          state["s"] = s * beta3 + ((d / d0) * d) * sliced_grad
        else:
          state["s"] = s * beta3 + ((d / d0) * dlr) * sliced_grad
        d_denom += np.abs(state["s"]).sum()

    d_hat = d
    if d_denom == 0:
      return self.params
    if lr > 0.0:
      global_d_numerator = d_numerator + delta_numerator
      global_d_denom = d_denom
      d_hat = d_coef * global_d_numerator / global_d_denom
      if d == d0:
        d = max(d, d_hat)
      d_max = max(d_max, d_hat)
      d = min(d_max, d * self.growth_rate)
    self.d_numerator, self.d, self.d_max = global_d_numerator, d, d_max

    for key, p in self.params.items():
      state = self.state[key]
      denom = np.sqrt(state["exp_avg_sq"]) + d * self.eps
      if self.weight_decay != 0 and self.decouple:
        p = p + p * (-self.weight_decay * dlr)
      if beta1 > 0:
        p = p - dlr * state["exp_avg"] / denom
      else:
        p = p - dlr * d * grads[key] / denom
      self.params[key] = p
    self.k = k + 1
    return self.params
