"""DoG, Distance over Gradients (Ivgi et al. 2023): SGD with step η_t = r̄_t / √(Σ‖g‖²).

optax.contrib.dog, checked against Eq. (1)–(2) of arXiv:2302.12022 in
tests/submissions/lr_free_test.py: r̄_t = max(r_ε, max_{k≤t} ‖x_k − x_0‖) with the paper's
r_ε = α(1 + ‖x_0‖), G_t = Σ_{k≤t} ‖g_k‖², x_{t+1} = x_t − r̄_t/√(G_t + ε) · g_t. The step size
η_t is logged.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax
from optax.contrib._dog import DoGState

from algoperf_lab import spec
from submissions.lib import lr_free

# Defaults of the reference implementation (github.com/formll/dog, `DoG.__init__`): reps_rel
# 1e-6 (r_ε = 1e-6·(1 + ‖x₀‖)), eps 1e-8, weight_decay 0, lr multiplier 1, no schedule.
HPARAMS = {
    "reps_rel": 1e-6,
    "weight_decay": 0.0,
    "dropout_rate": 0.0,
}
_EPS = 1e-8


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  del workload
  return optax.contrib.dog(init_step=("heuristic", hparams.reps_rel), eps=_EPS,
                           weight_decay=hparams.weight_decay or None)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  state = lr_free.find_state(opt_state, DoGState)
  return {"eta": state.max_dist / jnp.sqrt(state.sum_sq_norm_grads + _EPS)}
