"""Schedule-Free Prodigy (Defazio, Mishchenko et al.): no learning rate to choose, a short warmup.

The authors' AlgoPerf external-tuning submission (facebookresearch/schedule_free,
schedulefree/algoperf/external_tuning/schedule_free_prodigy/submission.py), their one combined
implementation, as the fused rule of submissions/lib/schedule_free_prodigy.py (checked step by
step in tests/reference/schedule_free_prodigy_test.py): Prodigy's estimate d scales the z step,
Schedule-Free averages z into x with weights (k + 1)^r, and the multiplier warms up linearly,
(k + 1)/warmup. `eval_params` returns x; d is logged.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib import lr_free
from submissions.lib import schedule_free_prodigy as sf_prodigy
from submissions.lib.schedules import base

# Defaults of the authors' `ProdigyScheduleFree.__init__` (betas (0.9, 0.9955), r 0.75, eps 1e-8
# (fixed here), weight_decay 0, d0 1e-6, d_coef 1) and of their `update_params` (warmup over
# int(0.075·step_hint) steps). weight_lr_power 0: their weights carry no step-size factor; 2 is
# the paper's §3 weighting by (d·γ)_max². Their AlgoPerf search space tried weight_decay 0.003 to
# 0.3; the lab keeps the class default 0.
HPARAMS = {
    "b1": 0.9,
    "b2": 0.9955,
    "d0": 1e-6,
    "d_coef": 1.0,
    "weight_decay": 0.0,
    "warmup_factor": 0.075,
    "r": 0.75,
    "weight_lr_power": 0.0,
    "dropout_rate": 0.0,
}
_EPS = 1e-8


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  multiplier = sf_prodigy.warmup_multiplier(
      base.num_warmup_steps(workload.step_hint, hparams.warmup_factor))
  return sf_prodigy.schedule_free_prodigy(
      multiplier, b1=hparams.b1, b2=hparams.b2, r=hparams.r,
      weight_lr_power=hparams.weight_lr_power, eps=_EPS, weight_decay=hparams.weight_decay,
      d0=hparams.d0, d_coef=hparams.d_coef)


def eval_params(opt_state: Any, params: Any) -> Any:
  state = lr_free.find_state(opt_state, sf_prodigy.ScheduleFreeProdigyState)
  return optax.contrib.schedule_free_eval_params(state, params)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return {"d": lr_free.find_state(opt_state, sf_prodigy.ScheduleFreeProdigyState).d}
