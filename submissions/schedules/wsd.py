"""AdamW, warmup-stable-decay (WSD): constant peak, then a cooldown of chosen length and shape.

Schedule: Hu et al., *MiniCPM* (2024); cooldown shapes (linear, 1 - sqrt, cosine) as compared
by Hägele et al., *Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations*
(NeurIPS 2024), whose code `epfml/schedules-and-scaling` `src/optim/utils.py` `wsd_schedule`
(commit 17e78d6) the lab's schedule follows step for step (`submissions/lib/schedules/wsd.py`).
Reference test: tests/reference/schedules_test.py (the rate over step_hint and 40 AdamW iterates
against a port of `wsd_schedule`).

Defaults: `cooldown_shape` "1-sqrt" is the paper's best shape and `cooldown_fraction` 0.2 the
cooldown length it finds to match cosine; the code's command-line defaults are `--decay-type
linear --wsd-fract-decay 0.1` (a choice of experiment, not a different method). The warmup rises
from peak / 100 as `main.py` sets it (`init_div_factor=1e2`, WARMUP_INIT_DIV_FACTOR); the lab
sets its length as a fraction of step_hint (`warmup_factor`, the AdamW baseline's 0.05) where
the code takes a step count (`--warmup-steps`, default 300). learning_rate, b1, b2 and
weight_decay are the lab's AdamW baseline's (the code defaults to lr 1e-3, betas (0.9, 0.95),
weight decay 0.1 on its LLM).
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.wsd import wsd

WARMUP_INIT_DIV_FACTOR = 100.0  # epfml/schedules-and-scaling src/main.py: init_div_factor=1e2
HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.9,
    "b2": 0.99,
    "weight_decay": 0.05,
    "warmup_factor": 0.05,
    "cooldown_fraction": 0.2,
    "cooldown_shape": "1-sqrt",
    "dropout_rate": 0.0,
}


def learning_rate(hparams: Any, workload: spec.Workload) -> optax.Schedule:
  return wsd(hparams.learning_rate, workload.step_hint, hparams.warmup_factor,
             hparams.cooldown_fraction, hparams.cooldown_shape,
             warmup_start_fraction=1.0 / WARMUP_INIT_DIV_FACTOR)


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return optax.adamw(learning_rate(hparams, workload), b1=hparams.b1, b2=hparams.b2,
                     weight_decay=hparams.weight_decay)
