"""D-Adaptation AdamW (Defazio & Mishchenko 2023): AdamW with its distance d estimated online.

submissions/lib/dadapt_adam.py, the authors' `DAdaptAdam.step` (github.com/facebookresearch/
dadaptation, dadaptation/dadapt_adam.py) with their defaults and decoupled decay, checked
against a port of it in tests/reference/dadapt_adamw_test.py. It replaces
optax.contrib.dadapt_adamw, which always applies Adam's bias correction (the authors' default
is off: iterates 113% apart within 40 steps on the reference test's least squares) and turns
every step with multiplier 0 (the first step of a warmup) into NaN, where the authors skip it.
d is logged.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib import dadapt_adam, lr_free

# Defaults of the authors' code (dadaptation/dadapt_adam.py, `DAdaptAdam.__init__`): lr 1 (here
# the schedule's peak), betas (0.9, 0.999), eps 1e-8, d0 1e-6, growth_rate inf,
# weight_decay 0, use_bias_correction False. One departure, the one their README asks for
# AdamW: decouple=True (their default is L2 decay, False); it only matters with weight_decay >
# 0. The schedule is their README's advice, the one one would use anyway: the lab's cosine
# decay, no warmup.
HPARAMS = {
    "b1": 0.9,
    "b2": 0.999,
    "d0": 1e-6,
    "weight_decay": 0.0,
    "use_bias_correction": False,
    "warmup_factor": 0.0,
    "decay_to": 0.0,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return dadapt_adam.scale_by_dadapt_adam(
      lr_free.multiplier_schedule(workload, hparams.warmup_factor, hparams.decay_to),
      b1=hparams.b1, b2=hparams.b2, d0=hparams.d0, weight_decay=hparams.weight_decay,
      decouple=True, use_bias_correction=hparams.use_bias_correction)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return {"d": lr_free.find_state(opt_state, dadapt_adam.DAdaptAdamState).d}
