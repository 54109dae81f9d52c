"""DoWG, Distance over Weighted Gradients (Khaled et al. 2023): η_t = r̄_t² / √(Σ r̄_k²‖g_k‖²).

optax.contrib.dowg, checked against Algorithm 1 of arXiv:2305.16284 in
tests/submissions/lr_free_test.py: r̄_t = max(r̄_{t−1}, ‖x_t − x_0‖) (kept squared),
v_t = v_{t−1} + r̄_t²‖g_t‖², x_{t+1} = x_t − r̄_t²/√v_t · g_t (optax adds its ε to √v_t).
The step size η_t is logged.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax
from optax.contrib._dog import DoWGState

from algoperf_lab import spec
from submissions.lib import lr_free

# Defaults of optax.contrib.dowg (the paper gives no value for r_ε): initial squared distance
# estimate = eps = 1e-4, no weight decay, lr multiplier 1, no schedule.
HPARAMS = {
    "init_sq_dist": 1e-4,
    "weight_decay": 0.0,
    "dropout_rate": 0.0,
}
_EPS = 1e-4


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  del workload
  return optax.contrib.dowg(init_estim_sq_dist=hparams.init_sq_dist, eps=_EPS,
                            weight_decay=hparams.weight_decay or None)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  state = lr_free.find_state(opt_state, DoWGState)
  return {"eta": state.estim_sq_dist / (jnp.sqrt(state.weighted_sq_norm_grads) + _EPS)}
