"""AdamW, 1cycle: LR up then down over one cycle, then annihilated; b1 cycled the other way.

Schedule: Smith, *A disciplined approach to neural network hyper-parameters: Part 1* (2018),
Sec. 4, and Smith & Topin, *Super-Convergence* (2019) (`submissions/lib/schedules/one_cycle.py`).
The rate goes learning_rate / div_factor -> learning_rate -> learning_rate / div_factor over
`cycle_fraction` of step_hint, then down to a further 1 / final_div_factor; Adam's b1 (the
momentum) goes b1 -> b1_min -> b1 over the cycle and stays at b1 after. Both are schedules
handed to optax.adamw through `optax.inject_hyperparams`, which evaluates them at the step
count on every update (and keeps their current values in the optimizer state). Unit test
(tests/submissions/schedules_test.py): the rate and momentum at the start, the middle of each
phase and the end, against values worked by hand.
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


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  learning_rate = one_cycle_learning_rate(hparams.learning_rate, workload.step_hint,
                                          hparams.cycle_fraction, hparams.div_factor,
                                          hparams.final_div_factor)
  momentum = one_cycle_momentum(hparams.b1, hparams.b1_min, workload.step_hint,
                                hparams.cycle_fraction)
  return optax.inject_hyperparams(optax.adamw)(
      learning_rate=learning_rate, b1=momentum, b2=hparams.b2, weight_decay=hparams.weight_decay)
