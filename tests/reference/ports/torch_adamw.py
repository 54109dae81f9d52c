"""numpy port of PyTorch's AdamW, for tests/reference/{adamw,ema}_test.py.

Ported line by line, in float64, from pytorch/pytorch, commit
c15fcf4eb79daaf10e12cecdf7fee15cde6cc530, torch/optim/adamw.py: `_single_tensor_adamw` (the
default path without foreach/fused, amsgrad off, maximize off) and the state `AdamW._init_group`
creates (step 0, zero moments). PyTorch's defaults are betas (0.9, 0.999), eps 1e-8,
weight_decay 1e-2; the tests pass the lab's. The learning rate of each step is handed to
`step`, as a PyTorch LR scheduler sets `group["lr"]` before `optimizer.step()`.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


class AdamW:

  def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
               weight_decay: float = 1e-2):
    self.beta1, self.beta2 = betas
    self.eps, self.weight_decay = eps, weight_decay
    self.state: dict[str, dict[str, np.ndarray | float]] = {}

  def step(self, params: Params, grads: Params, lr: float) -> Params:
    new = {}
    for name, param in params.items():
      param = param.copy()
      grad = grads[name]
      state = self.state.setdefault(name, {"step": 0.0, "exp_avg": np.zeros_like(param),
                                           "exp_avg_sq": np.zeros_like(param)})
      exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
      state["step"] += 1
      # Perform stepweight decay
      param *= 1 - lr * self.weight_decay
      # Decay the first and second moment running average coefficient
      exp_avg += (grad - exp_avg) * (1 - self.beta1)  # exp_avg.lerp_(grad, 1 - beta1)
      exp_avg_sq *= self.beta2
      exp_avg_sq += (1 - self.beta2) * grad * grad
      step = state["step"]
      bias_correction1 = 1 - self.beta1**step
      bias_correction2 = 1 - self.beta2**step
      step_size = lr / bias_correction1
      bias_correction2_sqrt = bias_correction2**0.5
      denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + self.eps
      param += -step_size * exp_avg / denom  # param.addcdiv_(exp_avg, denom, value=-step_size)
      new[name] = param
    return new
