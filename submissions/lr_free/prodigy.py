"""Prodigy (Mishchenko & Defazio 2023): AdamW whose step size d is estimated from the run.

optax.contrib.prodigy, checked against Algorithm 4 of arXiv:2306.06101 (the Adam form) in
tests/submissions/lr_free_test.py: m and v are EMAs of d·g and d²g², r and s accumulate
γd²⟨g, x₀ − x⟩ and γd²g with weight √β₂ (the common factor (1 − √β₂) and the 1/d₀ of the
reference code cancel in d̂ = r/‖s‖₁), d = max(d, d̂), and the step is γd·m/(√v + dε) with
decoupled weight decay γd·λ·x. optax always applies Adam's bias correction to γ (the reference
PyTorch code's `use_bias_correction=True`; its default is off). The estimate d is logged.
"""

from __future__ import annotations

from typing import Any

import optax
from optax.contrib._prodigy import ProdigyState

from algoperf_lab import spec
from submissions.lib import lr_free

# Defaults of the reference implementation (github.com/konstmish/prodigy, `Prodigy.__init__`):
# lr 1, betas (0.9, 0.999), beta3 = sqrt(beta2), d0 1e-6, d_coef 1, weight_decay 0; its README
# recommends cosine annealing of the multiplier over the whole run, without warmup.
HPARAMS = {
    "b1": 0.9,
    "b2": 0.999,
    "d0": 1e-6,
    "d_coef": 1.0,
    "weight_decay": 0.0,
    "warmup_factor": 0.0,
    "decay_to": 0.0,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return optax.contrib.prodigy(
      learning_rate=lr_free.multiplier_schedule(workload, hparams.warmup_factor, hparams.decay_to),
      betas=(hparams.b1, hparams.b2), estim_lr0=hparams.d0, estim_lr_coef=hparams.d_coef,
      weight_decay=hparams.weight_decay)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return {"d": lr_free.find_state(opt_state, ProdigyState).estim_lr}
