"""ASAM (Kwon et al. 2021) over the AdamW baseline: SAM with a scale-invariant perturbation.

ε = ρ T_w² g / ‖T_w g‖, T_w = |w| + η on weights and T = 1 on biases, as the authors' code
(SamsungLabs/ASAM `asam.py`) does (submissions/lib/asam.py says how the workload's parameter
types stand in for the authors' "'weight' in name" test). Checked against a port of that file
in tests/reference/asam_test.py. Step metrics: `perturbation_norm`, `sharpness`.

Defaults: `rho` = 0.5 and `eta` = 0.01 are the `ASAM` class defaults of asam.py (ρ = 0.5 is
also the rho its README runs CIFAR-10 with; its example_cifar.py passes `--eta` = 0.0 unless
told otherwise). The lab departs in the base optimizer: the authors step SGD with momentum 0.9
and weight decay 5e-4 (example_cifar.py); here ASAM's gradient feeds the lab's AdamW baseline
(submissions/baselines/adamw.py, its HPARAMS), so that SAM, ASAM and AdamW differ only in the
gradient they step along.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.baselines import adamw
from submissions.lib import asam, sam

HPARAMS = {**adamw.HPARAMS, "rho": 0.5, "eta": 0.01}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  perturbation = asam.make_asam_perturbation(hparams.eta, workload.model_params_types)
  return optax.chain(sam.sam_gradient(hparams.rho, perturbation),
                     adamw.make_optimizer(hparams, workload))


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return sam.sam_metrics(opt_state)
