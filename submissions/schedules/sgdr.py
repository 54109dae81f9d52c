"""AdamW, SGDR: cosine annealing with warm restarts, `num_cycles` cycles ending at step_hint.

Schedule: Loshchilov & Hutter, *SGDR: Stochastic Gradient Descent with Warm Restarts* (ICLR 2017),
Eq. 5 with eta_min = 0; each cycle `cycle_mult` (T_mult) times longer than the last
(`submissions/lib/schedules/sgdr.py`). Reference test: tests/reference/schedules_test.py: the rate
over step_hint and 44 AdamW iterates against a port of PyTorch's `CosineAnnealingWarmRestarts` (T_0
= 6, T_mult = 2 after 2 warmup steps). Unit test (tests/submissions/schedules_test.py): cycle
boundaries and values worked by hand.

Defaults and departures: the paper (and CosineAnnealingWarmRestarts) fix the first cycle length T_0
and let training stop anywhere; the lab fixes the number of cycles (3) instead and derives the
cycle lengths so that the last cycle ends at step_hint (rounded to whole steps, so cycles equal
PyTorch's exactly when (cycle_mult^n - 1) divides the post-warmup budget), because AlgoPerf budgets
are fixed. cycle_mult 2 is T_mult = 2, as in several of the paper's CIFAR settings. The paper has
no warmup; the lab's comes first. learning_rate 0.002, b1 0.9, b2 0.99, weight_decay 0.05 and
warmup_factor 0.05 are the lab's AdamW baseline's (submissions/baselines/adamw.py), so the schedule
is the only difference.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.sgdr import warmup_sgdr

HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.9,
    "b2": 0.99,
    "weight_decay": 0.05,
    "warmup_factor": 0.05,
    "num_cycles": 3,
    "cycle_mult": 2.0,
    "dropout_rate": 0.0,
}


def learning_rate(hparams: Any, workload: spec.Workload) -> optax.Schedule:
  return warmup_sgdr(hparams.learning_rate, workload.step_hint, hparams.warmup_factor,
                     hparams.num_cycles, hparams.cycle_mult)


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return optax.adamw(learning_rate(hparams, workload), b1=hparams.b1, b2=hparams.b2,
                     weight_decay=hparams.weight_decay)
