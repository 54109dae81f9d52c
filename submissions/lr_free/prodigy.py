"""Prodigy (Mishchenko & Defazio 2023): AdamW whose step size d is estimated from the run.

submissions/lib/prodigy.py, the authors' `Prodigy.step` (github.com/konstmish/prodigy,
prodigyopt/prodigy.py) with their defaults, checked against a port of it in
tests/reference/prodigy_test.py. It replaces optax.contrib.prodigy, which always applies Adam's
bias correction (the authors' default is off: iterates 107% apart within 40 steps on the
reference test's least squares) and turns every step with multiplier 0 (the first step of a
warmup) into NaN, where the authors skip it. The estimate d is logged.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib import lr_free, prodigy

# Defaults of the authors' code (prodigyopt/prodigy.py, `Prodigy.__init__`): lr 1 (here the
# schedule's peak), betas (0.9, 0.999), beta3 = sqrt(beta2), eps 1e-8, d0 1e-6, d_coef 1,
# growth_rate inf, weight_decay 0 with decouple=True, use_bias_correction False,
# safeguard_warmup False. The schedule is the authors' README recommendation: cosine
# annealing of the multiplier over the whole run, no warmup (their README asks for
# safeguard_warmup=True where one warms up; the search space keeps both switches at the
# authors' defaults, so warmup candidates run as the plain code would).
HPARAMS = {
    "b1": 0.9,
    "b2": 0.999,
    "d0": 1e-6,
    "d_coef": 1.0,
    "weight_decay": 0.0,
    "use_bias_correction": False,
    "safeguard_warmup": False,
    "warmup_factor": 0.0,
    "decay_to": 0.0,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return prodigy.scale_by_prodigy(
      lr_free.multiplier_schedule(workload, hparams.warmup_factor, hparams.decay_to),
      b1=hparams.b1, b2=hparams.b2, d0=hparams.d0, d_coef=hparams.d_coef,
      weight_decay=hparams.weight_decay, use_bias_correction=hparams.use_bias_correction,
      safeguard_warmup=hparams.safeguard_warmup)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return {"d": lr_free.find_state(opt_state, prodigy.ProdigyState).d}
