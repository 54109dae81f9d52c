"""D-Adaptation AdamW (Defazio & Mishchenko 2023): AdamW with its distance d estimated online.

optax.contrib.dadapt_adamw, checked against the Adam form of D-Adaptation (arXiv:2301.07733,
Algorithm 4) in tests/submissions/lr_free_test.py: m is an EMA of γd·g, v of g², s of γd·g with
weight √β₂, r of γd·⟨g, s⟩ weighted by 1/(√v + ε) (optax uses v before this step's update),
d̂ = r / ((1 − √β₂)‖s‖₁), d = max(d, d̂), and the step is m/(√v + ε) plus decoupled decay
γd·λ·x. As in Prodigy, optax always applies Adam's bias correction to γ. d is logged.
"""

from __future__ import annotations

from typing import Any

import optax
from optax.contrib._dadapt_adamw import DAdaptAdamWState

from algoperf_lab import spec
from submissions.lib import lr_free

# Defaults of the reference implementation (github.com/facebookresearch/dadaptation,
# `DAdaptAdam`): lr 1, betas (0.9, 0.999), eps 1e-8, d0 1e-6, weight_decay 0; its README says to
# keep the schedule one would use anyway, so the lab's usual cosine decay, without warmup.
HPARAMS = {
    "b1": 0.9,
    "b2": 0.999,
    "d0": 1e-6,
    "weight_decay": 0.0,
    "warmup_factor": 0.0,
    "decay_to": 0.0,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return optax.contrib.dadapt_adamw(
      learning_rate=lr_free.multiplier_schedule(workload, hparams.warmup_factor, hparams.decay_to),
      betas=(hparams.b1, hparams.b2), estim_lr0=hparams.d0, weight_decay=hparams.weight_decay)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return {"d": lr_free.find_state(opt_state, DAdaptAdamWState).estim_lr}
