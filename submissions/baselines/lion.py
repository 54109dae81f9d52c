"""Lion (evolved sign momentum), linear warmup and cosine decay over `step_hint`, in the optax form.

Chen et al. (2023), "Symbolic Discovery of Optimization Algorithms", Algorithm 2:
c_t = β1 m_{t−1} + (1−β1) g_t, θ_t = θ_{t−1} − η (sign(c_t) + λ θ_{t−1}),
m_t = β2 m_{t−1} + (1−β2) g_t. optax.lion computes the authors' code (google/automl
lion/lion_pytorch.py and lion_optax.py); tests/reference/lion_test.py runs this module beside a
port of `Lion.step`.

Defaults: β1 = 0.9, β2 = 0.99 are the authors' code defaults and the paper's recommendation.
Departures, deliberate: the learning rate and the weight decay (the authors' code defaults are
lr 1e-4 and λ 0). The paper advises a learning rate 3–10× smaller than AdamW's, because
Adam's updates shrink well below ±lr once gradients are noisy; within the tiny LM's 400-step
budget they do not. Lion at AdamW's lr/4 (5e-4) was far behind AdamW after 100 steps (4.36
against 3.37 validation bits/byte); of 1e-3 to 4e-3, tried for 100–150 steps, 2e-3 (AdamW's
own rate) and 3e-3 did best and alike, 2e-3 still gaining more by step 150.
Weight decay 0.1 (η·λ = 2e-4, twice AdamW's): the authors' README (lion/README.md) takes λ
3–10× AdamW's so that η·λ stays alike at a 3–10× smaller η; at AdamW's own η, 2× AdamW's λ.
warmup_factor 0.05 and the cosine schedule are the AdamW baseline's (the README keeps AdamW's
schedule too).
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.cosine import warmup_cosine

HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.9,
    "b2": 0.99,
    "weight_decay": 0.1,
    "warmup_factor": 0.05,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  schedule = warmup_cosine(hparams.learning_rate, workload.step_hint, hparams.warmup_factor)
  return optax.lion(schedule, b1=hparams.b1, b2=hparams.b2, weight_decay=hparams.weight_decay)
