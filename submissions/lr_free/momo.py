"""MoMo (Schaipp, Ohana, Eickenberg, Defazio & Gower 2023): momentum with a Polyak step size.

optax.contrib.momo, checked against Algorithm 1 of arXiv:2305.07583 (with its weight-decay
form, Alg. 3, as the reference code implements it) in tests/submissions/lr_free_test.py:
d = ρd + (1 − ρ)g, f̄ = ρf̄ + (1 − ρ)f, γ = ργ + (1 − ρ)⟨g, x⟩ (all started at the first
batch), τ = min(α, ((1 + αλ)(f̄ − f* − γ) + ⟨d, x⟩)₊ / ‖d‖²), x ← x/(1 + αλ) − τd. It reads
this batch's loss, the `value` extra. τ is not in optax's state, so it is recovered from the
update (−⟨u + αλ/(1 + αλ)·x, d⟩/‖d‖²) and logged.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax
from optax.contrib._momo import MomoState

from algoperf_lab import spec
from submissions.lib import lr_free

# Defaults of the reference implementation (github.com/fabian-sp/MoMo, `Momo.__init__`):
# lr (the cap alpha) 1, beta 0.9, lb 0 (the loss is non-negative), weight_decay 0, no lower-bound
# adaptation; constant alpha.
HPARAMS = {
    "alpha": 1.0,
    "beta": 0.9,
    "lower_bound": 0.0,
    "weight_decay": 0.0,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  del workload
  shrink = hparams.alpha * hparams.weight_decay / (1.0 + hparams.alpha * hparams.weight_decay)

  def tau(updates: Any, params: Any, state: Any) -> Any:
    direction = lr_free.find_state(state, MomoState).exp_avg
    decay_part = optax.tree.vdot(params, direction) * shrink
    norm_sq = optax.tree.norm(direction, squared=True)
    return jnp.where(norm_sq > 0, -(optax.tree.vdot(updates, direction) + decay_part)
                     / jnp.where(norm_sq > 0, norm_sq, 1.0), 0.0)

  momo = optax.contrib.momo(learning_rate=hparams.alpha, beta=hparams.beta,
                            lower_bound=hparams.lower_bound, weight_decay=hparams.weight_decay)
  return lr_free.with_step_size(momo, tau)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return {"tau": opt_state.step_size}
