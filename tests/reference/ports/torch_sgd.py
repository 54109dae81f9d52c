"""numpy port of PyTorch's SGD with momentum, for tests/reference/{sgd_momentum,nesterov}_test.py.

Ported line by line, in float64, from pytorch/pytorch, commit
0316fdce3d7cd6b72508ea175f38e4ad19ed5072, torch/optim/sgd.py: `_single_tensor_sgd` (maximize
off): weight decay is added to the gradient (L2) before the momentum; the momentum buffer
starts as a copy of the first (decayed) gradient, later b ← μ b + (1 − τ) g; Nesterov uses
g + μ b. PyTorch's defaults are momentum 0, dampening 0, weight_decay 0, nesterov False; the
tests pass the lab's. The learning rate of each step is handed to `step`, as a PyTorch LR
scheduler sets `group["lr"]`.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


class SGD:

  def __init__(self, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
               nesterov: bool = False):
    if nesterov and (momentum <= 0 or dampening != 0):
      raise ValueError("Nesterov momentum requires a momentum and zero dampening")
    self.momentum, self.dampening = momentum, dampening
    self.weight_decay, self.nesterov = weight_decay, nesterov
    self.momentum_buffer: dict[str, np.ndarray | None] = {}

  def step(self, params: Params, grads: Params, lr: float) -> Params:
    new = {}
    for name, param in params.items():
      grad = grads[name]
      if self.weight_decay != 0:
        grad = grad + self.weight_decay * param
      if self.momentum != 0:
        buf = self.momentum_buffer.get(name)
        if buf is None:
          buf = grad.copy()
          self.momentum_buffer[name] = buf
        else:
          buf *= self.momentum
          buf += (1 - self.dampening) * grad
        if self.nesterov:
          grad = grad + self.momentum * buf
        else:
          grad = buf
      new[name] = param - lr * grad
    return new
