"""Schedule-Free AdamW (Defazio et al. 2024), evaluated at its averaged point x.

optax.contrib.schedule_free_adamw, checked against Algorithm 1 of arXiv:2405.15682 in
tests/submissions/lr_free_test.py: the gradient at y = (1 − β₁)z + β₁x, v an EMA of g²,
z ← z − γ_t(g/√(v/(1 − β₂ᵗ)) + λy), c = γ_max²/Σγ_max², x ← (1 − c)x + c·z. It is not free of a
learning rate, but of the schedule; it is here as the AlgoPerf v0.5 self-tuning winner's
method. `eval_params` returns x; the learning rate in force is logged.
"""

from __future__ import annotations

from typing import Any

import optax
from optax.contrib._schedule_free import ScheduleFreeState

from algoperf_lab import spec
from submissions.lib import lr_free
from submissions.lib.schedules import base

# Defaults of the reference implementation (github.com/facebookresearch/schedule_free,
# `AdamWScheduleFree.__init__`): lr 0.0025, betas (0.9, 0.999), eps 1e-8, weight_decay 0,
# warmup_steps 0, weight_lr_power 2 (and r = 0, which optax's version fixes).
HPARAMS = {
    "learning_rate": 0.0025,
    "b1": 0.9,
    "b2": 0.999,
    "weight_decay": 0.0,
    "warmup_factor": 0.0,
    "weight_lr_power": 2.0,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  warmup_steps = base.num_warmup_steps(workload.step_hint, hparams.warmup_factor)
  return optax.contrib.schedule_free_adamw(
      learning_rate=hparams.learning_rate, warmup_steps=warmup_steps or None, b1=hparams.b1,
      b2=hparams.b2, weight_decay=hparams.weight_decay, weight_lr_power=hparams.weight_lr_power)


def eval_params(opt_state: Any, params: Any) -> Any:
  return optax.contrib.schedule_free_eval_params(
      lr_free.find_state(opt_state, ScheduleFreeState), params)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return {"learning_rate": lr_free.find_state(opt_state, ScheduleFreeState).max_lr}
