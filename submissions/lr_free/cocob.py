"""COCOB-Backprop (Orabona & Tommasi 2017): per-coordinate coin betting, no learning rate.

optax.contrib.cocob is the authors' `COCOB` (bremen79/parameterfree, parameterfree/cocob.py;
checked step by step in tests/reference/cocob_test.py), Algorithm 2 of arXiv:1705.07795:
L = max(L, |g|), G += |g|, Reward = max(Reward − g(w − w₁), 0), θ −= g,
w = w₁ + θ/(L·max(G + L, αL)) · (L + Reward), weight decay added to the gradient. The logged
step size is the mean over coordinates of (L + Reward)/(L·max(G + L, αL)), the factor on θ (the
summed negative gradients) that plays SGD's learning rate.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from optax.contrib._cocob import COCOBState

from algoperf_lab import spec
from submissions.lib import lr_free

# Defaults of the authors' `COCOB.__init__` (bremen79/parameterfree, parameterfree/cocob.py):
# alpha 100 (the paper's Alg. 2), eps 1e-8 (L_0, fixed here), weight_decay 0; no schedule.
HPARAMS = {
    "alpha": 100.0,
    "weight_decay": 0.0,
    "dropout_rate": 0.0,
}
_EPS = 1e-8


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  del workload
  return lr_free.with_step_size(
      optax.contrib.cocob(alpha=hparams.alpha, eps=_EPS, weight_decay=hparams.weight_decay),
      lambda updates, params, state: mean_step_size(lr_free.find_state(state, COCOBState),
                                                    hparams.alpha))


def mean_step_size(state: COCOBState, alpha: float) -> jax.Array:
  """Mean over coordinates of COCOB's factor on θ, (L + Reward)/(L·max(G + L, αL))."""
  factors = jax.tree.map(
      lambda L, G, R: (L + R) / (L * jnp.maximum(G + L, alpha * L)),
      state.scale, state.subgradients, state.reward)
  total = sum(jnp.sum(f) for f in jax.tree.leaves(factors))
  return total / sum(f.size for f in jax.tree.leaves(factors))


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return {"step_size": opt_state.step_size}
