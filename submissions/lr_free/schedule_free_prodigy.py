"""Schedule-Free averaging over Prodigy's step: no learning rate and no schedule to choose.

A composition of two checked pieces (tests/submissions/lr_free_test.py): Prodigy
(optax.contrib.prodigy with β₁ = 0, since Schedule-Free's interpolation is its momentum) moves
the z sequence, and submissions/lib/schedule_free.py averages it into x with the Schedule-Free
weights c_t ∝ (max_{i≤t} d_i)² — the weighting Defazio et al. 2024 (arXiv:2405.15682, §3) give
for a varying step size, here Prodigy's d. It is clean because Prodigy only needs its own
iterate (z) and gradients, and Schedule-Free only needs the step size each update used.
`eval_params` returns x; d is logged.
"""

from __future__ import annotations

from typing import Any

import optax
from optax.contrib._prodigy import ProdigyState

from algoperf_lab import spec
from submissions.lib import lr_free, schedule_free

# Prodigy's reference defaults (b2 0.999, d0 1e-6, d_coef 1, no decay) with Schedule-Free's
# (b1 0.9, weight_lr_power 2), the pairing of the schedule-free reference code's
# Prodigy-style variants; no warmup, constant multiplier.
HPARAMS = {
    "b1": 0.9,
    "b2": 0.999,
    "d0": 1e-6,
    "d_coef": 1.0,
    "weight_decay": 0.0,
    "weight_lr_power": 2.0,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  del workload
  prodigy = optax.contrib.prodigy(learning_rate=1.0, betas=(0.0, hparams.b2),
                                  estim_lr0=hparams.d0, estim_lr_coef=hparams.d_coef,
                                  weight_decay=hparams.weight_decay)
  return schedule_free.schedule_free_around(prodigy, _step_size, b1=hparams.b1,
                                            weight_lr_power=hparams.weight_lr_power)


def _step_size(prodigy_state: ProdigyState) -> Any:
  return prodigy_state.estim_lr


def eval_params(opt_state: Any, params: Any) -> Any:
  state = lr_free.find_state(opt_state, schedule_free.ScheduleFreeState)
  return optax.contrib.schedule_free_eval_params(state, params)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return {"d": lr_free.find_state(opt_state, ProdigyState).estim_lr}
