"""numpy port of DoWG, for tests/reference/dowg_test.py.

Ported line by line, in float64, from `DoWG.step` of rka97/dowg, dowg/dowg.py, commit
e4dbe02c7cee8a51880daeb181b2905e81b22cf4 (Ahmed Khaled's repository for the DoWG paper,
arXiv:2305.16284), keeping its one default: eps 1e-4, also the initial squared distance
estimate r̄₀². The authors' DoWG has no weight decay. One parameter group; `step(params,
grads)` returns the new parameters.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


class DoWG:

  def __init__(self, params: Params, eps: float = 1e-4):
    self.eps = eps
    self.rt2, self.vt = eps, 0.0
    self.x0 = {n: p.copy() for n, p in params.items()}

  def step(self, params: Params, grads: Params) -> Params:
    grad_sq_norm = sum(float(np.sum(g ** 2)) for g in grads.values())
    curr_d2 = sum(float(np.sum((p - self.x0[n]) ** 2)) for n, p in params.items())
    self.rt2 = max(self.rt2, curr_d2)
    self.vt += self.rt2 * grad_sq_norm
    denom = np.sqrt(self.vt) + self.eps
    return {n: p - self.rt2 * grads[n] / denom for n, p in params.items()}
