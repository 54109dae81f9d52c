"""numpy port of Schedule-Free AdamW, for tests/reference/schedule_free_adamw_test.py.

Ported line by line, in float64, from `AdamWScheduleFreeReference.step` of
facebookresearch/schedule_free, schedulefree/adamw_schedulefree_reference.py, commit
70785b53e778d0e872c0bbb75ff4ee54ee10c291 (the authors' simplified reference; the package's
`AdamWScheduleFree` in adamw_schedulefree.py computes the same iterates in place, with weight
decay at y as here), keeping its defaults: lr 0.0025, betas (0.9, 0.999), eps 1e-8,
weight_decay 0, warmup_steps 0, r 0, weight_lr_power 2, decay_at_z False, inner_momentum 0.

One parameter group; `step(grads)` takes the gradient at y (the parameters the model holds in
train mode) and returns the new y; `x` is the evaluation point (`.eval()` copies it into p).
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


class AdamWScheduleFreeReference:

  def __init__(self, params: Params, lr: float = 0.0025,
               betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
               weight_decay: float = 0.0, warmup_steps: int = 0, r: float = 0.0,
               weight_lr_power: float = 2.0, decay_at_z: bool = False,
               inner_momentum: float = 0.0):
    self.lr, self.betas, self.eps = lr, betas, eps
    self.weight_decay, self.warmup_steps, self.r = weight_decay, warmup_steps, r
    self.weight_lr_power, self.decay_at_z = weight_lr_power, decay_at_z
    self.inner_momentum = inner_momentum
    self.k, self.weight_sum, self.lr_max, self.scheduled_lr = 0, 0.0, -1.0, 0.0
    self.z = {n: p.copy() for n, p in params.items()}
    self.exp_avg_sq = {n: np.zeros_like(p) for n, p in params.items()}
    self.x = {n: p.copy() for n, p in params.items()}
    self.y = {n: p.copy() for n, p in params.items()}
    if inner_momentum != 0:
      self.exp_avg = {n: np.zeros_like(p) for n, p in params.items()}

  def step(self, grads: Params) -> Params:
    eps, decay = self.eps, self.weight_decay
    beta1, beta2 = self.betas
    k, r = self.k, self.r
    if k < self.warmup_steps:
      sched = (k + 1) / self.warmup_steps
    else:
      sched = 1.0
    bias_correction2 = 1 - beta2 ** (k + 1)
    if self.inner_momentum != 0:
      bias_correction1 = 1 - self.inner_momentum ** (k + 1)
    lr = self.lr * sched
    self.scheduled_lr = lr
    lr_max = self.lr_max = max(lr, self.lr_max)
    weight = ((k + 1) ** r) * (lr_max ** self.weight_lr_power)
    weight_sum = self.weight_sum = self.weight_sum + weight
    try:
      ckp1 = weight / weight_sum
    except ZeroDivisionError:
      ckp1 = 0

    for name, grad in grads.items():
      z, x, y = self.z[name], self.x[name], self.y[name]
      if decay != 0:
        decay_point = z if self.decay_at_z else y
        z -= lr * decay * decay_point
      self.exp_avg_sq[name] = beta2 * self.exp_avg_sq[name] + (1 - beta2) * grad * grad
      denom = np.sqrt(self.exp_avg_sq[name] / bias_correction2) + eps
      if self.inner_momentum != 0:
        self.exp_avg[name] = (self.inner_momentum * self.exp_avg[name]
                              + (1 - self.inner_momentum) * grad)
        update_num = self.exp_avg[name] / bias_correction1
      else:
        update_num = grad
      z -= lr * update_num / denom
      self.x[name] = (1 - ckp1) * x + ckp1 * z
      self.y[name] = beta1 * self.x[name] + (1 - beta1) * z

    self.k = k + 1
    return {n: y.copy() for n, y in self.y.items()}
