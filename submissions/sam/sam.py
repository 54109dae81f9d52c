"""SAM (Foret et al. 2021) over the AdamW baseline: AdamW steps along the gradient at w + ε.

ε = ρ ∇L / ‖∇L‖ from this batch's gradient (submissions/lib/sam.py; the update rule is checked
by hand in tests/submissions/sam_test.py). Under data parallelism the perturbation uses the
global-batch gradient (the lab's step is one jit over the global batch). Step metrics:
`perturbation_norm`, `sharpness` (L(w + ε) − L(w)).
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
