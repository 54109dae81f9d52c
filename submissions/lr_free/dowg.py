"""DoWG, Distance over Weighted Gradients (Khaled et al. 2023): η_t = r̄_t² / √(Σ r̄_k²‖g_k‖²).

optax.contrib.dowg is its authors' `DoWG` (rka97/dowg, dowg/dowg.py; checked step by step in
tests/reference/dowg_test.py): r̄_t² = max(r̄_{t−1}², ‖x_t − x_0‖²) from r̄_0² = ε,
v_t = v_{t−1} + r̄_t²‖g_t‖², x_{t+1} = x_t − r̄_t²/(√v_t + ε) · g_t. The step size η_t is logged.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax
from optax.contrib._dog import DoWGState

from algoperf_lab import spec
from submissions.lib import lr_free

# Defaults of the authors' `DoWG.__init__` (rka97/dowg, dowg/dowg.py): eps 1e-4, which is also
# the initial squared distance estimate (optax's default too); no lr multiplier, no schedule.
# weight_decay (optax's, added to the gradient) is the lab's option; the authors' DoWG has none.
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
