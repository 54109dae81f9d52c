"""numpy port of SAM's gradient, for tests/reference/sam_test.py, and the base optimizer that
the SAM family's submissions chain after their gradient.

`sam_gradient` is ported line by line, in float64, from `dual_vector` and `get_sam_gradient`
(inside `train_step`) of google-research/sam, sam_jax/training_utils/flax_training.py, commit
dae9904c4cf3a57a304f7b04cecffe371679c702 (the authors' JAX code, the one the paper's results
came from): g = ∇L(w), ε = ρ g / ‖g‖ (no ε in the norm), the step's gradient is ∇L(w + ε).
The rest of their `train_step` (pmean, clipping at global norm 5, SGD with momentum and an L2
term in the loss) is their base optimizer, which the lab replaces with its own AdamW.

`AdamW` is plain numpy for that base: optax.adamw (eps 1e-8, eps_root 0, bias-corrected
moments, decoupled weight decay times the learning rate) with the lab's warmup-cosine
schedule (submissions/lib/schedules/cosine.py: linear from 0 over int(warmup_factor ×
step_hint) steps, then cosine to 0 at step_hint), as submissions/baselines/adamw.py builds it.
It is the lab's optimizer written out, not an authors' reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Params = dict[str, np.ndarray]
GradFn = Callable[[Params], Params]


def dual_vector(y: Params) -> Params:
  """flax_training.py `dual_vector`: y / ‖y‖ over all leaves."""
  gradient_norm = np.sqrt(sum(np.sum(np.square(e)) for e in y.values()))
  return {k: x / gradient_norm for k, x in y.items()}


def sam_gradient(params: Params, grad_fn: GradFn, rho: float) -> Params:
  """flax_training.py `get_sam_gradient`: the gradient at the perturbed model."""
  grad = grad_fn(params)
  grad = dual_vector(grad)
  noised_model = {k: params[k] + rho * grad[k] for k in params}
  return grad_fn(noised_model)


class AdamW:
  """optax.adamw with the lab's warmup-cosine learning rate, on a dict of float64 arrays."""

  def __init__(self, learning_rate: float, step_hint: int, warmup_factor: float, b1: float,
               b2: float, weight_decay: float, eps: float = 1e-8):
    self.peak, self.step_hint = learning_rate, step_hint
    self.warmup_steps = int(warmup_factor * step_hint)
    self.b1, self.b2, self.weight_decay, self.eps = b1, b2, weight_decay, eps
    self.count = 0
    self.mu: Params | None = None
    self.nu: Params | None = None

  @classmethod
  def from_hparams(cls, hparams: dict, step_hint: int) -> "AdamW":
    return cls(hparams["learning_rate"], step_hint, hparams["warmup_factor"], hparams["b1"],
               hparams["b2"], hparams["weight_decay"])

  def learning_rate(self, count: int) -> float:
    if count < self.warmup_steps:
      return self.peak * count / max(self.warmup_steps, 1)
    decay_steps = max(self.step_hint - self.warmup_steps, 1)
    progress = min(count - self.warmup_steps, decay_steps)
    return self.peak * 0.5 * (1.0 + math.cos(math.pi * progress / decay_steps))

  def step(self, params: Params, grads: Params) -> Params:
    if self.mu is None:
      self.mu = {k: np.zeros_like(v) for k, v in params.items()}
      self.nu = {k: np.zeros_like(v) for k, v in params.items()}
    lr = self.learning_rate(self.count)
    self.count += 1
    new_params = {}
    for k, p in params.items():
      g = grads[k]
      self.mu[k] = (1 - self.b1) * g + self.b1 * self.mu[k]
      self.nu[k] = (1 - self.b2) * g ** 2 + self.b2 * self.nu[k]
      mu_hat = self.mu[k] / (1 - self.b1 ** self.count)
      nu_hat = self.nu[k] / (1 - self.b2 ** self.count)
      update = mu_hat / (np.sqrt(nu_hat) + self.eps) + self.weight_decay * p
      new_params[k] = p - lr * update
    return new_params
