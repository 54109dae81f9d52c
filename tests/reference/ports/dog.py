"""numpy port of DoG, LDoG and polynomial decay averaging, for tests/reference/dog_test.py.

Ported line by line, in float64, from formll/dog, commit
8d45cf569e3824212852d31cc2ae1da7ead34545 (the authors' package, `dog-optimizer`):
`DoG.step` / `DoG._update_group_state` and `LDoG._update_group_state` of src/dog/dog.py, and
`PolynomialDecayAverager.step` of src/dog/averager.py, keeping their defaults: reps_rel 1e-6,
lr 1, weight_decay 0, eps 1e-8, init_eta None; averager gamma 8 (example.py's `--avg_gamma`).
One parameter group, its params in dict order; `step(params, grads)` returns the new
parameters; the averager is stepped after each optimizer step, as the package's README says.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


class DoG:

  def __init__(self, reps_rel: float = 1e-6, lr: float = 1.0, weight_decay: float = 0.0,
               eps: float = 1e-8, layerwise: bool = False):
    self.reps_rel, self.lr, self.weight_decay, self.eps = reps_rel, lr, weight_decay, eps
    self.layerwise = layerwise  # LDoG
    self._first_step = True

  def step(self, params: Params, grads: Params) -> Params:
    if self._first_step:
      self.init_buffer = {n: p.copy() for n, p in params.items()}
    if self.weight_decay > 0:
      grads = {n: g + self.weight_decay * params[n] for n, g in grads.items()}
    self._update_group_state(params, grads)
    new_params = {n: p - eta * grads[n] for (n, p), eta in zip(params.items(), self.eta)}
    self._first_step = False
    return new_params

  def _update_group_state(self, params: Params, grads: Params) -> None:
    norms = np.array([np.linalg.norm(p) for p in params.values()])
    grad_sq = np.array([np.sum(g ** 2) for g in grads.values()])
    if self._first_step:
      if self.layerwise:
        self.rbar = self.reps_rel * (1 + norms)
        self.G = grad_sq + self.eps
      else:
        self.rbar = self.reps_rel * (1 + np.linalg.norm(norms))
        self.G = grad_sq.sum() + self.eps
    else:
      dists = np.array([np.linalg.norm(p - self.init_buffer[n]) for n, p in params.items()])
      if self.layerwise:
        self.rbar = np.maximum(self.rbar, dists)
        self.G = self.G + grad_sq
      else:
        self.rbar = np.maximum(self.rbar, np.linalg.norm(dists))
        self.G = self.G + grad_sq.sum()
    assert np.all(self.G > 0)
    eta = self.lr * self.rbar / np.sqrt(self.G)
    self.eta = list(eta) if self.layerwise else [eta] * len(params)


class PolynomialDecayAverager:

  def __init__(self, params: Params, gamma: float = 8.0):
    self.t = 1
    self.gamma = gamma
    self.av = {n: p.copy() for n, p in params.items()}

  def step(self, params: Params) -> Params:
    t, gamma = self.t, self.gamma
    weight = (gamma + 1) / (gamma + t)
    self.av = {n: self.av[n] * (1 - weight) + weight * params[n] for n in self.av}
    self.t += 1
    return {n: a.copy() for n, a in self.av.items()}
