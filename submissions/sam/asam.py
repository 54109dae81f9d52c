"""ASAM (Kwon et al. 2021) over the AdamW baseline: SAM with a scale-invariant perturbation.

ε = ρ T_w² g / ‖T_w g‖, T_w = |w| + η (submissions/lib/asam.py; checked by hand in
tests/submissions/sam_test.py). Step metrics: `perturbation_norm`, `sharpness`.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.baselines import adamw
from submissions.lib import asam, sam

HPARAMS = {**adamw.HPARAMS, "rho": 0.5, "eta": 0.01}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  perturbation = asam.make_asam_perturbation(hparams.eta)
  return optax.chain(sam.sam_gradient(hparams.rho, perturbation),
                     adamw.make_optimizer(hparams, workload))


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return sam.sam_metrics(opt_state)
