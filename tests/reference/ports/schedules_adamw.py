"""AdamW, the base optimizer every submission in submissions/schedules/ runs under its schedule.

Numpy port (float64) of PyTorch's `_single_tensor_adamw`, `pytorch/pytorch`
`torch/optim/adamw.py` at commit 002d2f0bb40cf08beb74bce80f52ce4f2eda46a0 (Loshchilov & Hutter's
decoupled weight decay; the lab's submissions call `optax.adamw`, whose update is the same
arithmetic). The learning rate and beta1 of each step are given per step, as a PyTorch
scheduler sets `group["lr"]` and `group["betas"]` before each `optimizer.step()`: the t-th
update (t = 1, 2, ...) uses the schedule's value at index t - 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


class AdamW:
  """State of one parameter array; `step` applies one update in place and returns the param."""

  def __init__(self, param: np.ndarray, beta2: float, weight_decay: float, eps: float = 1e-8):
    self.param = np.array(param, np.float64)
    self.exp_avg = np.zeros_like(self.param)
    self.exp_avg_sq = np.zeros_like(self.param)
    self.step_t = 0
    self.beta2, self.weight_decay, self.eps = beta2, weight_decay, eps

  def step(self, grad: np.ndarray, lr: float, beta1: float) -> np.ndarray:
    param, exp_avg, exp_avg_sq = self.param, self.exp_avg, self.exp_avg_sq
    # update step
    self.step_t += 1
    # Perform stepweight decay
    param *= 1 - lr * self.weight_decay
    # Decay the first and second moment running average coefficient
    exp_avg += (grad - exp_avg) * (1 - beta1)  # lerp_(grad, 1 - beta1)
    exp_avg_sq *= self.beta2
    exp_avg_sq += (1 - self.beta2) * grad * grad
    step = self.step_t
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - self.beta2**step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = np.sqrt(bias_correction2)
    denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + self.eps
    param += -step_size * exp_avg / denom
    return param


def run(params: dict[str, np.ndarray], grad_fn: Callable[[dict[str, np.ndarray]],
                                                          dict[str, np.ndarray]],
        learning_rates: Sequence[float], beta1s: Sequence[float], beta2: float,
        weight_decay: float) -> list[dict[str, np.ndarray]]:
  """len(learning_rates) AdamW steps from `params`; the iterates after each step (copies)."""
  states = {k: AdamW(v, beta2, weight_decay) for k, v in params.items()}
  iterates = []
  for lr, beta1 in zip(learning_rates, beta1s):
    current = {k: s.param for k, s in states.items()}
    grads = grad_fn(current)
    for k, s in states.items():
      s.step(grads[k], lr, beta1)
    iterates.append({k: s.param.copy() for k, s in states.items()})
  return iterates
