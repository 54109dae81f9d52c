"""numpy port of Mechanic's tuner, for tests/reference/mechanic_test.py.

Ported line by line, in float64, from `_step` and `mechanize` of
optimizedlearning/mechanic, src/mechanic_pytorch/mechanic.py, commit
4a037bcd4a9c399167228015ca33a57866d132d9 (the authors' PyTorch package, `mechanic-pytorch`),
keeping its defaults: s_decay 0.01, betas (0.9, ..., 0.999999), s_init 1e-8, eps 1e-8,
store_delta False; the state starts with s = 0, max_product = 1e-6, reward = 0.

`step(params, grads)` takes the base optimizer's new parameters from `base_step(params,
grads)` (the PyTorch wrapper calls the base class's `step`, which moves p in place), as the
wrapper does. As in the reference, the decay term and the parameter norm are read from the
parameters *after* the base step (`p` at that point of `_step`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Params = dict[str, np.ndarray]
BaseStep = Callable[[Params, Params], Params]  # (params, grads) -> params after the base step


class Mechanic:
  """The reference's `Mechanized(Base).step` on a dict of float64 arrays."""

  def __init__(self, base_step: BaseStep, s_decay: float = 0.01,
               betas: tuple[float, ...] = (0.9, 0.99, 0.999, 0.9999, 0.99999, 0.999999),
               s_init: float = 1e-8, eps: float = 1e-8, store_delta: bool = False):
    self.base_step = base_step
    self.s_decay, self.s_init, self.eps = s_decay, s_init, eps
    self.betas = np.array(betas, np.float64)
    self.store_delta = store_delta
    self.state: dict | None = None

  def _init_state(self, p_ref: Params) -> None:  # `_init_state` + `_init_reference`
    n = len(self.betas)
    self.state = {"s": np.zeros(n), "sum_squared_products": np.zeros(n),
                  "reward": np.zeros(n), "max_product": np.full(n, 1e-6),
                  "ref": {k: v.copy() for k, v in p_ref.items()}}
    if self.store_delta:
      self.state["delta"] = {k: np.zeros_like(v) for k, v in p_ref.items()}

  def step(self, params: Params, grads: Params) -> Params:
    grads = {k: g.copy() for k, g in grads.items()}
    before = {k: p.copy() for k, p in params.items()}  # `updates[p] = p.data.clone()`
    p = self.base_step({k: v.copy() for k, v in params.items()}, grads)
    if self.state is None:
      self._init_state(before)
    st = self.state
    eps = self.eps

    deltas, updates = {}, {}
    global_norm, grad_norm = 0.0, 0.0
    for k in p:
      if self.store_delta:
        deltas[k] = st["delta"][k]
      else:
        deltas[k] = (before[k] - st["ref"][k]) / (np.sum(st["s"]) + eps)
      updates[k] = p[k] - before[k]
      p_flat = p[k].ravel()
      global_norm += np.dot(p_flat, p_flat)
      g_flat = grads[k].ravel()
      grad_norm += np.dot(g_flat, g_flat)
    global_norm = np.sqrt(global_norm)
    grad_norm = np.sqrt(grad_norm)

    inner_product = 0.0
    for k in p:
      delta = deltas[k]
      decay = self.s_decay * p[k].ravel() * np.sum(st["s"]) * grad_norm / (global_norm + eps)
      inner_product += np.dot(delta.ravel(), grads[k].ravel() + decay)
      delta += updates[k]  # `delta.add_(updates[p])`: in place, so the stored delta moves too

    s, betas = st["s"], self.betas
    st["max_product"] = np.maximum(betas * st["max_product"], np.abs(inner_product))
    st["sum_squared_products"] = st["sum_squared_products"] * betas ** 2 + inner_product ** 2
    st["reward"] = st["reward"] * betas - s * inner_product
    st["reward"] = np.maximum(st["reward"], 0.0)
    wealth = st["max_product"] * self.s_init / len(betas) + st["reward"]
    st["s"] = wealth / (np.sqrt(st["sum_squared_products"]) + eps)

    return {k: st["ref"][k] + deltas[k] * max(np.sum(st["s"]), 0.0) for k in p}


def adamw_step(lr: Callable[[int], float], b1: float = 0.9, b2: float = 0.999,
               eps: float = 1e-8, weight_decay: float = 0.0) -> BaseStep:
  """A base for the tuner: `torch.optim.AdamW`'s update (decoupled decay p·(1 − lr·λ), then
  m̂/(√v̂ + ε) with both bias corrections) at learning rate lr(t) on the t-th call, t from 0."""
  state: dict = {"t": 0, "m": None, "v": None}

  def step(params: Params, grads: Params) -> Params:
    if state["m"] is None:
      state["m"] = {k: np.zeros_like(v) for k, v in params.items()}
      state["v"] = {k: np.zeros_like(v) for k, v in params.items()}
    rate = lr(state["t"])
    state["t"] += 1
    t = state["t"]
    out = {}
    for k, p in params.items():
      p = p * (1 - rate * weight_decay)
      state["m"][k] = b1 * state["m"][k] + (1 - b1) * grads[k]
      state["v"][k] = b2 * state["v"][k] + (1 - b2) * grads[k] ** 2
      denom = np.sqrt(state["v"][k]) / np.sqrt(1 - b2 ** t) + eps
      out[k] = p - rate / (1 - b1 ** t) * state["m"][k] / denom
    return out

  return step
