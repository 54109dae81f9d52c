"""SAM-MTL (Phan et al. 2022): per-task SAM, task and flat components aggregated (PCGrad), AdamW.

Each task k is perturbed along its own gradient, ε_k = ρ g_k / ‖g_k‖; the task components g_k
and the flat components ∇L_k(θ + ε_k) − g_k are aggregated apart with the `aggregator`
hyperparameter (any of submissions/lib/aggregators.py; `cagrad_c` is CAGrad's c) and summed
(submissions/lib/sam_mtl.py). With one task and linear scalarisation it is SAM; both that and
the two-task rule are checked in tests/submissions/sam_mtl_test.py. Multi-task workloads only.
Step metrics: `perturbation_norm`, `sharpness` (mean over tasks), `conflicting_pairs` and
`flat_conflicting_pairs`.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.baselines import adamw
from submissions.lib import aggregators, mtl, sam_mtl

HPARAMS = {**adamw.HPARAMS, "rho": 0.05, "aggregator": "pcgrad", "cagrad_c": 0.4}
MULTI_TASK = True  # the conformance suite runs it on gnn and a two-task quadratic


def make_aggregator(hparams: Any) -> aggregators.Aggregator:
  options = {"c": hparams.cagrad_c} if hparams.aggregator == "cagrad" else {}
  return aggregators.make_aggregator(hparams.aggregator, **options)


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  mtl.require_tasks(workload, "sam_mtl")
  return optax.chain(sam_mtl.sam_mtl_gradient(make_aggregator(hparams), hparams.rho),
                     adamw.make_optimizer(hparams, workload))


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return sam_mtl.sam_mtl_metrics(opt_state)
