"""numpy port of ASAM's ascent and descent steps, for tests/reference/asam_test.py.

Ported line by line, in float64, from `ASAM.ascent_step` and `ASAM.descent_step` of
SamsungLabs/ASAM, asam.py, commit f156a680171db16d551c0d85cba2514fa3bff6a2 (the authors'
PyTorch code), keeping the class defaults rho = 0.5, eta = 0.01. Parameters are named as
PyTorch names them: T_w = |w| + η multiplies the gradient (twice: once for the norm, once
more for ε) only where 'weight' is in the name; the norm gets +1e-16. `descent_step` takes the
base optimizer's step as a function (the reference calls `self.optimizer.step()` after
moving p back by ε).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Params = dict[str, np.ndarray]


class ASAM:
  """The reference's ASAM on a dict of float64 arrays keyed by PyTorch-style names."""

  def __init__(self, rho: float = 0.5, eta: float = 0.01):
    self.rho, self.eta = rho, eta
    self.state: dict[str, dict[str, np.ndarray]] = {}

  def ascent_step(self, params: Params, grads: Params) -> Params:
    """Returns w + ε (the reference moves p in place and keeps ε in its state)."""
    grads = {n: g.copy() for n, g in grads.items()}
    params = {n: p.copy() for n, p in params.items()}
    wgrads = []
    for n, p in params.items():
      t_w = self.state.setdefault(n, {}).get("eps")
      if t_w is None:
        t_w = p.copy()
        self.state[n]["eps"] = t_w
      if "weight" in n:
        t_w[...] = np.abs(p) + self.eta
        grads[n] = grads[n] * t_w
      wgrads.append(np.linalg.norm(grads[n]))
    wgrad_norm = np.linalg.norm(np.stack(wgrads)) + 1.e-16
    for n, p in params.items():
      t_w = self.state[n]["eps"]
      if "weight" in n:
        grads[n] = grads[n] * t_w
      eps = grads[n] * (self.rho / wgrad_norm)
      self.state[n]["eps"] = eps
      params[n] = p + eps
    return params

  def descent_step(self, params: Params, grads: Params,
                   base_step: Callable[[Params, Params], Params]) -> Params:
    """w = (w + ε) − ε, then the base optimizer's step with the gradient taken at w + ε."""
    params = {n: p - self.state[n]["eps"] for n, p in params.items()}
    return base_step(params, grads)
