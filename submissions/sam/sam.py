"""SAM (Foret et al. 2021) over the AdamW baseline: AdamW steps along the gradient at w + ε.

ε = ρ ∇L / ‖∇L‖ from this batch's gradient (submissions/lib/sam.py), the authors' `dual_vector`
and `get_sam_gradient` of google-research/sam (sam_jax/training_utils/flax_training.py);
tests/reference/sam_test.py runs it beside a port of them. Under data parallelism the
perturbation uses the global-batch gradient (the lab's step is one jit over the global batch;
the authors' default, `sync_perturbations` off, perturbs each device with its own shard's
gradient). Step metrics: `perturbation_norm`, `sharpness` (L(w + ε) − L(w)).

Defaults: `rho` = 0.05 is davda54/sam's `SAM` default and the ρ that SamsungLabs/ASAM's
README gives SAM on CIFAR-10; google-research/sam's `sam_rho` flag defaults to 0 (SAM off) and
is set per run. The lab departs in the base optimizer: the authors step SGD with momentum
(clipped at global norm 5, L2 in the loss); here SAM's gradient feeds the lab's AdamW baseline
(submissions/baselines/adamw.py, its HPARAMS), so SAM and AdamW differ only in the gradient.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.baselines import adamw
from submissions.lib import sam

HPARAMS = {**adamw.HPARAMS, "rho": 0.05}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return optax.chain(sam.sam_gradient(hparams.rho), adamw.make_optimizer(hparams, workload))


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return sam.sam_metrics(opt_state)
