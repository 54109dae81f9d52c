"""SGD with heavy-ball momentum, linear warmup and cosine decay over `step_hint`, in the optax form.

Polyak (1964), "Some methods of speeding up the convergence of iteration methods":
x_{t+1} = x_t − η ∇f(x_t) + μ (x_t − x_{t−1}), written as optax's trace
v_t = μ v_{t−1} + g_t, x_{t+1} = x_t − η v_t (the same iterates for a constant η).
Weight decay is L2 added to the gradient before the momentum, as in AlgoPerf's momentum
baseline (mlcommons/algorithmic-efficiency, algorithms/archived_paper_baselines/momentum/jax/
submission.py, whose `sgd` is this same `chain(add_decayed_weights, optax.sgd)`) and in
PyTorch's SGD with dampening 0 (torch/optim/sgd.py; tests/reference/sgd_momentum_test.py runs
this module beside a port of its `_single_tensor_sgd`).

Defaults: SGD needs a much larger learning rate than Adam on a transformer (AlgoPerf
searches 0.02–5): on the tiny LM, 0.5 trained best of 0.1, 0.3, 0.5, 1.0 and 1.5 over its
first 100 steps; momentum 0.9 (one_minus_beta1 0.1) is the usual value; weight_decay 1e-5 and
warmup_factor 0.05 are this lab's choices (the decay inside AlgoPerf's search range
1e-7–5e-5). Departure: AlgoPerf's momentum baselines decay linearly (polynomial schedule with
`end_factor`, `decay_steps_factor`); here the schedule is the lab's warmup + cosine, as for
every optax-form baseline, so the baselines differ in their update rule only.
tests/submissions/baselines_test.py also checks two steps by hand.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.cosine import warmup_cosine

HPARAMS = {
    "learning_rate": 0.5,
    "one_minus_beta1": 0.1,
    "weight_decay": 1e-5,
    "warmup_factor": 0.05,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  schedule = warmup_cosine(hparams.learning_rate, workload.step_hint, hparams.warmup_factor)
  return optax.chain(optax.add_decayed_weights(hparams.weight_decay),
                     optax.sgd(schedule, momentum=1.0 - hparams.one_minus_beta1))
