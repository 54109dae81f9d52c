"""numpy port of Lion, for tests/reference/lion_test.py.

Ported line by line, in float64, from google/automl, commit
6a54c8741e7c3265d4547c4f35f47a0391122dc5, lion/lion_pytorch.py: `Lion.step` (the authors'
PyTorch implementation; lion/lion_optax.py at the same commit computes the same update).
Decoupled weight decay first (p ← p (1 − lr λ)), then p ← p − lr sign(β1 m + (1 − β1) g), then
m ← β2 m + (1 − β2) g. The authors' defaults are lr 1e-4, betas (0.9, 0.99), weight_decay 0;
the test passes the lab's. The learning rate of each step is handed to `step`, as a PyTorch LR
scheduler sets `group["lr"]`.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


class Lion:

  def __init__(self, betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0):
    self.beta1, self.beta2 = betas
    self.weight_decay = weight_decay
    self.exp_avg: dict[str, np.ndarray] = {}

  def step(self, params: Params, grads: Params, lr: float) -> Params:
    new = {}
    for name, p in params.items():
      # Perform stepweight decay
      p = p * (1 - lr * self.weight_decay)
      grad = grads[name]
      exp_avg = self.exp_avg.setdefault(name, np.zeros_like(p))
      # Weight update
      update = exp_avg * self.beta1 + grad * (1 - self.beta1)
      p = p - lr * np.sign(update)
      # Decay the momentum running average coefficient
      exp_avg *= self.beta2
      exp_avg += grad * (1 - self.beta2)
      new[name] = p
    return new
