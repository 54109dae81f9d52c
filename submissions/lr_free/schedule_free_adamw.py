"""Schedule-Free AdamW (Defazio et al. 2024), evaluated at its averaged point x.

The authors' reference rule (facebookresearch/schedule_free,
schedulefree/adamw_schedulefree_reference.py; checked step by step in
tests/reference/schedule_free_adamw_test.py), built in submissions/lib/schedule_free.py: the
gradient at y = (1 − β₁)z + β₁x, v an EMA of g², z ← z − γ_k(g/(√(v/(1 − β₂^{k+1})) + ε) + λy),
c = w_k/Σw, w_k = (k + 1)^r·γ_max^p, x ← (1 − c)x + c·z, with the warmup γ_k = lr·(k + 1)/warmup
for k < warmup. optax.contrib.schedule_free_adamw is replaced: its warmup takes a first step of
learning rate 0 (k/warmup) and reads a different step of its schedule for the weight than for
z (2.6% iterate difference after 30 steps with warmup). It is not free of a learning rate, but
of the schedule; it is here as the AlgoPerf v0.5 self-tuning winner's method. `eval_params`
returns x; the largest learning rate so far (the one in force after warmup) is logged.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib import lr_free, schedule_free
from submissions.lib.schedules import base

# Defaults of the authors' package (`AdamWScheduleFree.__init__` and the reference's
# `AdamWScheduleFreeReference.__init__`, schedulefree/adamw_schedulefree*.py): lr 0.0025, betas
# (0.9, 0.999), eps 1e-8 (fixed here), weight_decay 0, warmup_steps 0, r 0, weight_lr_power 2.
# warmup_factor is the fraction of step_hint (int(warmup_factor·step_hint) steps). The AlgoPerf
# self-tuning submission (schedulefree/algoperf/self_tuning/schedule_free_adamw/submission.py)
# tuned other values (β₂ 0.9955, λ 0.0812, warmup 2% of 0.75·step_hint, r 0.75); the lab's
# defaults are the package's.
HPARAMS = {
    "learning_rate": 0.0025,
    "b1": 0.9,
    "b2": 0.999,
    "weight_decay": 0.0,
    "warmup_factor": 0.0,
    "weight_lr_power": 2.0,
    "r": 0.0,
    "dropout_rate": 0.0,
}
_EPS = 1e-8


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return schedule_free.schedule_free_adamw(
      learning_rate=hparams.learning_rate,
      warmup_steps=base.num_warmup_steps(workload.step_hint, hparams.warmup_factor),
      b1=hparams.b1, b2=hparams.b2, eps=_EPS, weight_decay=hparams.weight_decay,
      weight_lr_power=hparams.weight_lr_power, r=hparams.r)


def eval_params(opt_state: Any, params: Any) -> Any:
  return optax.contrib.schedule_free_eval_params(
      lr_free.find_state(opt_state, schedule_free.ScheduleFreeState), params)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return {"learning_rate": lr_free.find_state(opt_state, schedule_free.ScheduleFreeState).max_lr}
