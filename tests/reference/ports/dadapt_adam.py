"""numpy port of D-Adaptation's Adam, for tests/reference/dadapt_adamw_test.py.

Ported line by line, in float64, from `DAdaptAdam.step` of facebookresearch/dadaptation,
dadaptation/dadapt_adam.py, commit c984980213a989ff7cac1e3d68c19a2257bcd571, keeping its
defaults: betas (0.9, 0.999), eps 1e-8, weight_decay 0, decouple False,
use_bias_correction False, d0 1e-6, growth_rate inf, layer_scale 1. One parameter group (so
`lr` is the group's learning rate, set by the caller each step as a PyTorch scheduler would),
no FSDP. A step whose ‖s‖₁ is 0 (every step with lr = 0) returns before touching d, the
weighted numerator, k or the parameters, as the reference does.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


class DAdaptAdam:

  def __init__(self, params: Params, betas: tuple[float, float] = (0.9, 0.999),
               eps: float = 1e-8, weight_decay: float = 0.0, decouple: bool = False,
               use_bias_correction: bool = False, d0: float = 1e-6,
               growth_rate: float = float("inf")):
    self.betas, self.eps = betas, eps
    self.weight_decay, self.decouple = weight_decay, decouple
    self.use_bias_correction, self.growth_rate = use_bias_correction, growth_rate
    self.d, self.k, self.numerator_weighted, self.layer_scale = d0, 0, 0.0, 1.0
    self.params = {k: np.array(v, np.float64) for k, v in params.items()}
    self.state: dict[str, dict[str, np.ndarray]] = {}

  def step(self, grads: Params, lr: float) -> Params:
    """One `DAdaptAdam.step` at group learning rate `lr`; returns the parameters after it."""
    sk_l1 = 0.0
    numerator_weighted = self.numerator_weighted
    beta1, beta2 = self.betas
    k, d = self.k, self.d
    if self.use_bias_correction:
      bias_correction = ((1 - beta2 ** (k + 1)) ** 0.5) / (1 - beta1 ** (k + 1))
    else:
      bias_correction = 1
    dlr = d * lr * bias_correction
    sqrt_beta2 = beta2 ** 0.5
    numerator_acum = 0.0
    r = self.layer_scale
    grads = {key: np.array(g, np.float64) for key, g in grads.items()}

    for key, p in self.params.items():
      grad = grads[key]
      if self.weight_decay != 0 and not self.decouple:
        grad += self.weight_decay * p
      if key not in self.state:
        self.state[key] = {"s": np.zeros_like(p), "exp_avg": np.zeros_like(p),
                           "exp_avg_sq": np.zeros_like(p)}
      state = self.state[key]
      if lr > 0.0:
        denom = np.sqrt(state["exp_avg_sq"]) + self.eps
        numerator_acum += r * dlr * np.dot(grad.ravel(), (state["s"] / denom).ravel())
        state["exp_avg"] = state["exp_avg"] * beta1 + r * dlr * (1 - beta1) * grad
        state["exp_avg_sq"] = state["exp_avg_sq"] * beta2 + (1 - beta2) * grad * grad
        state["s"] = state["s"] * sqrt_beta2 + dlr * (1 - sqrt_beta2) * grad
        sk_l1 += r * np.abs(state["s"]).sum()

    if sk_l1 == 0:
      return self.params
    global_numerator_weighted = sqrt_beta2 * numerator_weighted + (1 - sqrt_beta2) * numerator_acum
    global_sk_l1 = sk_l1
    if lr > 0.0:
      d_hat = global_numerator_weighted / ((1 - sqrt_beta2) * global_sk_l1)
      d = max(d, min(d_hat, d * self.growth_rate))
    self.numerator_weighted, self.d = global_numerator_weighted, d

    for key, p in self.params.items():
      state = self.state[key]
      denom = np.sqrt(state["exp_avg_sq"]) + self.eps
      if self.weight_decay != 0 and self.decouple:
        p = p + p * (-self.weight_decay * dlr)
      self.params[key] = p - state["exp_avg"] / denom
    self.k = k + 1
    return self.params
