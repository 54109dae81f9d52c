"""DoG, Distance over Gradients (Ivgi et al. 2023): SGD with step η_t = r̄_t / √(Σ‖g‖²),
evaluated at its polynomial-decay average.

optax.contrib.dog is the authors' global `DoG` (formll/dog, src/dog/dog.py; checked step by
step in tests/reference/dog_test.py): r̄_t = max(r_ε, max_{k≤t} ‖x_k − x_0‖) with
r_ε = reps_rel·(1 + ‖x_0‖), G_t = ε + Σ_{k≤t} ‖g_k‖², x_{t+1} = x_t − r̄_t/√G_t · g_t, weight
decay added to the gradient. The authors call iterate averaging crucial (their README; "used
throughout our experiments"): `eval_params` returns their polynomial decay average
(submissions/lib/polynomial_averaging.py, γ = 8); training continues from x_t. The step size
η_t is logged.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax
from optax.contrib._dog import DoGState

from algoperf_lab import spec
from submissions.lib import lr_free, polynomial_averaging

# Defaults of the authors' package (formll/dog): `DoG.__init__` reps_rel 1e-6 (their advice:
# 1e-4 with batch normalisation), eps 1e-8 (fixed here), weight_decay 0, lr 1, init_eta None,
# no schedule; `PolynomialDecayAverager` gamma 8 (example.py's --avg_gamma). The global DoG,
# not the layer-wise LDoG (the package's alternative class, not built here).
HPARAMS = {
    "reps_rel": 1e-6,
    "weight_decay": 0.0,
    "avg_gamma": 8.0,
    "dropout_rate": 0.0,
}
_EPS = 1e-8


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  del workload
  dog = optax.contrib.dog(init_step=("heuristic", hparams.reps_rel), eps=_EPS,
                          weight_decay=hparams.weight_decay or None)
  return polynomial_averaging.polynomial_decay(dog, gamma=hparams.avg_gamma)


def eval_params(opt_state: Any, params: Any) -> Any:
  del params
  return polynomial_averaging.averaged_params(opt_state)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  state = lr_free.find_state(opt_state, DoGState)
  return {"eta": state.max_dist / jnp.sqrt(state.sum_sq_norm_grads + _EPS)}
