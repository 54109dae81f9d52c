"""SAM-MTL (Phan et al. 2022): per-task SAM, task and flat components aggregated (PCGrad), AdamW.

Each task k is perturbed along its own gradient (adaptively, ε_k = ρ |θ|² g_k / ‖|θ| g_k‖, by
default), the shared parameters' task components g_k and flat components ∇L_k(θ + ε_k) − g_k
are aggregated apart with the `aggregator` hyperparameter (any of
submissions/lib/aggregators.py; `cagrad_c` is CAGrad's c) and summed; the output layer's
per-task heads step along their own task's SAM gradient (submissions/lib/sam_mtl.py).
Checked against a port of the authors' step in tests/reference/sam_mtl_test.py (PCGrad and
CAGrad, the two bundled; the authors' MGDA and IMTL variants normalise the components first
and are not what `aggregator` = "mgda" / "imtl_g" gives here); with one task and linear
scalarisation it is SAM (tests/submissions/sam_mtl_test.py). Multi-task workloads
only. Step metrics: `perturbation_norm`, `sharpness` (means over tasks), `conflicting_pairs`
and `flat_conflicting_pairs`.

Defaults, from the authors' code (VietHoang1512/FS-MTL, commit 1371ec5): `adaptive` = True
and `rho` = 2 are the `--adaptive`/`--rho` defaults of nyuv2/, city2scape/ and celeba/
`train.py` and what multi-mnist/run.sh passes (multi-mnist/train.py's own defaults are False
and 0.05); `adaptive` = False is their flag off, plain SAM's ε_k = ρ g_k / ‖g_k‖.
PCGrad sums the projected gradients, as the authors' `PCGrad(..., reduction="sum")` that
their step calls (the lab's PCGrad submission takes the mean); `cagrad_c` = 0.4 is their
`--c` default. The lab departs in the base optimizer: the authors step Adam without weight
decay (lr 1e-4 to 1e-3 by dataset); here the direction feeds the lab's AdamW baseline
(submissions/baselines/adamw.py, its HPARAMS), as every multi-task submission here does.
"""

from __future__ import annotations

from typing import Any

import jax
import optax

from algoperf_lab import spec
from submissions.baselines import adamw
from submissions.lib import aggregators, mtl, sam_mtl

HPARAMS = {**adamw.HPARAMS, "rho": 2.0, "adaptive": True, "aggregator": "pcgrad",
           "cagrad_c": 0.4}
MULTI_TASK = True  # the conformance suite runs it on gnn and a two-task quadratic


def make_aggregator(hparams: Any) -> aggregators.Aggregator:
  if hparams.aggregator == "cagrad":
    return aggregators.make_aggregator("cagrad", c=hparams.cagrad_c)
  aggregator = aggregators.make_aggregator(hparams.aggregator)
  if hparams.aggregator != "pcgrad":
    return aggregator

  def pcgrad_sum(gram_TxT: jax.Array, key: jax.Array) -> jax.Array:
    return gram_TxT.shape[0] * aggregator(gram_TxT, key)  # the authors' reduction="sum"
  return pcgrad_sum


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  mtl.require_tasks(workload, "sam_mtl")
  return optax.chain(
      sam_mtl.sam_mtl_gradient(make_aggregator(hparams), hparams.rho, hparams.adaptive,
                               task_specific=workload.is_output_params),
      adamw.make_optimizer(hparams, workload))


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return sam_mtl.sam_mtl_metrics(opt_state)
