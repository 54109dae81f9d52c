"""numpy port of Muon with its auxiliary Adam, for tests/reference/muon_test.py.

Ported line by line, in float64, from KellerJordan/Muon, commit
857d1adc159e098212f828d927460782d3da59e9, muon.py: `zeropower_via_newtonschulz5`,
`muon_update`, `adam_update` and `SingleDeviceMuonWithAuxAdam.step`. Kept: the quintic
coefficients (3.4445, −4.7750, 2.0315), 5 steps, the Frobenius normalisation with + 1e-7,
Nesterov momentum without bias correction, the scale max(1, rows/cols)^0.5 on PyTorch's
(out, in) weight layout, and the decoupled decay p ← p (1 − lr λ) on both groups. One
departure, deliberate: the authors cast to bfloat16 before the Newton-Schulz iteration
(`G.bfloat16()`); here it runs in float64, as the lab's does in a float64 run. Group defaults
are the authors' (Muon: lr 0.02, momentum 0.95, weight_decay 0; Adam: lr 3e-4, betas
(0.9, 0.95), eps 1e-10, weight_decay 0); the test passes the lab's. Each group's learning rate
of the step is handed to `step`, as a PyTorch LR scheduler sets `group["lr"]`.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


def zeropower_via_newtonschulz5(G: np.ndarray, steps: int) -> np.ndarray:
  assert G.ndim >= 2
  a, b, c = (3.4445, -4.7750, 2.0315)
  X = G.astype(np.float64)  # the authors: G.bfloat16()
  if G.shape[-2] > G.shape[-1]:
    X = np.swapaxes(X, -2, -1)
  # Ensure spectral norm is at most 1
  X = X / (np.linalg.norm(X, axis=(-2, -1), keepdims=True) + 1e-7)
  # Perform the NS iterations
  for _ in range(steps):
    A = X @ np.swapaxes(X, -2, -1)
    B = b * A + c * A @ A
    X = a * X + B @ X
  if G.shape[-2] > G.shape[-1]:
    X = np.swapaxes(X, -2, -1)
  return X


def muon_update(grad: np.ndarray, momentum: np.ndarray, beta: float = 0.95, ns_steps: int = 5,
                nesterov: bool = True) -> np.ndarray:
  momentum += (grad - momentum) * (1 - beta)  # momentum.lerp_(grad, 1 - beta)
  update = grad + (momentum - grad) * beta if nesterov else momentum  # grad.lerp_(momentum, beta)
  if update.ndim == 4:  # for the case of conv filters
    update = update.reshape(len(update), -1)
  update = zeropower_via_newtonschulz5(update, steps=ns_steps)
  update = update * max(1, grad.shape[-2] / grad.shape[-1])**0.5
  return update


def adam_update(grad, buf1, buf2, step, betas, eps):
  buf1 += (grad - buf1) * (1 - betas[0])  # buf1.lerp_(grad, 1 - betas[0])
  buf2 += (grad**2 - buf2) * (1 - betas[1])  # buf2.lerp_(grad.square(), 1 - betas[1])
  buf1c = buf1 / (1 - betas[0]**step)
  buf2c = buf2 / (1 - betas[1]**step)
  return buf1c / (np.sqrt(buf2c) + eps)


class SingleDeviceMuonWithAuxAdam:
  """`param_groups`: dicts with "params" (names), "use_muon", and the group's settings."""

  def __init__(self, param_groups: list[dict]):
    for group in param_groups:
      assert "use_muon" in group
      if group["use_muon"]:
        group.setdefault("momentum", 0.95)
        group.setdefault("weight_decay", 0)
      else:
        group.setdefault("betas", (0.9, 0.95))
        group.setdefault("eps", 1e-10)
        group.setdefault("weight_decay", 0)
    self.param_groups = param_groups
    self.state: dict[str, dict] = {}

  def step(self, params: Params, grads: Params, lrs: list[float]) -> Params:
    """`lrs[i]`: group i's learning rate for this step."""
    new = {name: p.copy() for name, p in params.items()}
    for group, lr in zip(self.param_groups, lrs):
      for name in group["params"]:
        p, grad = new[name], grads[name].copy()
        state = self.state.setdefault(name, {})
        if group["use_muon"]:
          if len(state) == 0:
            state["momentum_buffer"] = np.zeros_like(p)
          update = muon_update(grad, state["momentum_buffer"], beta=group["momentum"])
          p *= 1 - lr * group["weight_decay"]
          p += -lr * update.reshape(p.shape)
        else:
          if len(state) == 0:
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            state["step"] = 0
          state["step"] += 1
          update = adam_update(grad, state["exp_avg"], state["exp_avg_sq"], state["step"],
                               group["betas"], group["eps"])
          p *= 1 - lr * group["weight_decay"]
          p += -lr * update
    return new
