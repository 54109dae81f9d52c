"""AdamW, 1cycle: LR up then down over one cycle, then annihilated; b1 cycled the other way.

Schedule: Smith, *A disciplined approach to neural network hyper-parameters: Part 1* (2018),
Sec. 4, and Smith & Topin, *Super-Convergence* (2019), computed as PyTorch's `OneCycleLR` with
`three_phase=True, anneal_strategy="linear"` (`submissions/lib/schedules/one_cycle.py`, which
also offers OneCycleLR's default two-phase cosine variant). The rate goes
learning_rate / div_factor -> learning_rate -> learning_rate / div_factor over `cycle_fraction`
of step_hint (OneCycleLR's pct_start = cycle_fraction / 2), then down to a further
1 / final_div_factor; Adam's b1 (the momentum) goes b1 -> b1_min -> b1 over the cycle and stays
at b1 after. Both are schedules handed to optax.adamw through `optax.inject_hyperparams`, which
evaluates them at the step count on every update. Reference test:
tests/reference/schedules_test.py (rate and b1 over step_hint, 40 AdamW iterates, against a port
of OneCycleLR).

Defaults: three linear phases are the paper's 1cycle (OneCycleLR's own default is fastai's two
cosine phases with pct_start 0.3); b1 0.95 / b1_min 0.85 are OneCycleLR's max_momentum /
base_momentum defaults. div_factor 10, final_div_factor 100 and a cycle of 90% of the budget
are the lab's choices for the paper's shape (a cycle a little shorter than the budget, the rest
annihilating the rate below the cycle's minimum; the paper sets the bounds by an LR range test);
OneCycleLR defaults to div_factor 25 and final_div_factor 1e4. learning_rate, b2 and
weight_decay are the lab's AdamW baseline's.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.one_cycle import one_cycle_learning_rate, one_cycle_momentum

HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.95,
    "b1_min": 0.85,
    "b2": 0.99,
    "weight_decay": 0.05,
    "cycle_fraction": 0.9,
    "div_factor": 10.0,
    "final_div_factor": 100.0,
    "dropout_rate": 0.0,
}


def learning_rate(hparams: Any, workload: spec.Workload) -> optax.Schedule:
  return one_cycle_learning_rate(hparams.learning_rate, workload.step_hint,
                                 hparams.cycle_fraction, hparams.div_factor,
                                 hparams.final_div_factor)


def momentum(hparams: Any, workload: spec.Workload) -> optax.Schedule:
  return one_cycle_momentum(hparams.b1, hparams.b1_min, workload.step_hint,
                            hparams.cycle_fraction)


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return optax.inject_hyperparams(optax.adamw)(
      learning_rate=learning_rate(hparams, workload), b1=momentum(hparams, workload),
      b2=hparams.b2, weight_decay=hparams.weight_decay)
