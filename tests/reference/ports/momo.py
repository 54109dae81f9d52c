"""numpy port of MoMo, for tests/reference/momo_test.py.

Ported line by line, in float64, from `Momo.step` of fabian-sp/MoMo, momo/momo.py, commit
7be52f222709b6fe324c0bf4fe985491bc909f50 (the authors' package, `momo-opt`), keeping its
defaults: lr 1, weight_decay 0, beta 0.9, lb 0, bias_correction False, use_fstar False. One
parameter group; `step(params, grads, loss)` returns the new parameters, and `tau` is the
step size the last step took.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


class Momo:

  def __init__(self, lr: float = 1.0, weight_decay: float = 0.0, beta: float = 0.9,
               lb: float = 0.0, bias_correction: bool = False, use_fstar: bool = False):
    self.lr, self.weight_decay, self.beta = lr, weight_decay, beta
    self.lb = self._initial_lb = lb
    self.bias_correction, self.use_fstar = bias_correction, use_fstar
    self._number_steps = 0
    self.state: dict[str, dict[str, np.ndarray]] = {}
    self.tau = 0.0

  def step(self, params: Params, grads: Params, loss: float) -> Params:
    self._number_steps += 1
    beta = self.beta
    if self._number_steps == 1:
      self.loss_avg = 0.0 if self.bias_correction else loss
    self.loss_avg = beta * self.loss_avg + (1 - beta) * loss
    rho = 1 - beta ** self._number_steps if self.bias_correction else 1

    _dot, _gamma, _norm = 0.0, 0.0, 0.0
    for name, p in params.items():
      grad = grads[name]
      if self._number_steps == 1:
        if self.bias_correction:
          self.state[name] = {"grad_avg": np.zeros_like(p), "grad_dot_w": 0.0}
        else:
          self.state[name] = {"grad_avg": grad.copy(), "grad_dot_w": float(np.sum(p * grad))}
      state = self.state[name]
      state["grad_avg"] = beta * state["grad_avg"] + (1 - beta) * grad
      state["grad_dot_w"] = beta * state["grad_dot_w"] + (1 - beta) * float(np.sum(p * grad))
      _dot += float(np.sum(p * state["grad_avg"]))
      _gamma += state["grad_dot_w"]
      _norm += float(np.sum(state["grad_avg"] * state["grad_avg"]))

    lr, lmbda = self.lr, self.weight_decay
    if self.use_fstar:
      cap = (1 + lr * lmbda) * self.loss_avg + _dot - (1 + lr * lmbda) * _gamma
      if cap < (1 + lr * lmbda) * rho * self.lb:
        self.lb = cap / (2 * (1 + lr * lmbda) * rho)
        self.lb = max(self.lb, self._initial_lb)
    if lmbda > 0:
      nom = (1 + lr * lmbda) * (self.loss_avg - rho * self.lb) + _dot - (1 + lr * lmbda) * _gamma
      t1 = max(nom, 0.0) / _norm
    else:
      t1 = max(self.loss_avg - rho * self.lb + _dot - _gamma, 0.0) / _norm
    tau = min(lr / rho, t1)
    if self.use_fstar:
      h = self.loss_avg + _dot - _gamma
      self.lb = max((h - 0.5 * tau * _norm) / rho, self._initial_lb)
    self.tau = tau

    new_params = {}
    for name, p in params.items():
      p = p - tau * self.state[name]["grad_avg"]
      if lmbda > 0:
        p = p / (1 + lr * lmbda)
      new_params[name] = p
    return new_params
