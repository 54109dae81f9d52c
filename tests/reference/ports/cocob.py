"""numpy port of COCOB-Backprop, for tests/reference/cocob_test.py.

Ported line by line, in float64, from `COCOB.step` of bremen79/parameterfree,
parameterfree/cocob.py, commit 8e130f23a9f3d88be5815fd96699f8db8cd2dff2 (Francesco Orabona's
`parameterfree` package), keeping its defaults: alpha 100, eps 1e-8, weight_decay 0, lr 1.
`step(params, grads)` returns the new parameters.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


class COCOB:

  def __init__(self, params: Params, alpha: float = 100.0, eps: float = 1e-8,
               weight_decay: float = 0.0, lr: float = 1.0):
    self._alpha, self._eps, self.weight_decay, self.lr = alpha, eps, weight_decay, lr
    self.state = {n: {"sum_negative_gradients": np.zeros_like(p),
                      "grad_norm_sum": np.zeros_like(p),
                      "L": eps * np.ones_like(p),
                      "reward": np.zeros_like(p),
                      "x0": p.copy()} for n, p in params.items()}

  def step(self, params: Params, grads: Params) -> Params:
    new_params = {}
    for name, p in params.items():
      grad = grads[name]
      state = self.state[name]
      if self.weight_decay != 0:
        grad = grad + self.weight_decay * p
      grad = grad * self.lr
      state["L"] = np.maximum(state["L"], np.abs(grad))
      state["sum_negative_gradients"] = state["sum_negative_gradients"] - grad
      state["grad_norm_sum"] = state["grad_norm_sum"] + np.abs(grad)
      state["reward"] = np.maximum(state["reward"] - grad * (p - state["x0"]), 0.0)
      den = np.maximum(state["grad_norm_sum"] + state["L"], state["L"] * self._alpha) * state["L"]
      new_params[name] = ((state["reward"] + state["L"]) * state["sum_negative_gradients"] / den
                          + state["x0"])
    return new_params
