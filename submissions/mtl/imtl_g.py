"""IMTL-G (Liu et al. 2021, impartial MTL): equal projections on every task gradient, then AdamW.

Closed-form weights summing to one whose direction has the same projection on each unit task
gradient; checked step by step against a port of LibMTL's IMTL (LibMTL/weighting/IMTL.py; the
IMTL authors released no code) in tests/reference/imtl_g_test.py on 2, 3 and 12 tasks.

Defaults and departures: IMTL-G has no hyperparameter of its own; HPARAMS are the AdamW
baseline's (submissions/baselines/adamw.py), the base the lab gives every aggregator. LibMTL's
IMTL is the hybrid IMTL-L + IMTL-G (task losses scaled by learnt e^{s_k}); this is the
gradient half alone, the paper's IMTL-G. The weights sum to one in both, so no rescaling.
The aggregated direction feeds the AdamW baseline (submissions/lib/mtl.py). Multi-task
workloads only (gnn and its variants): a single-task workload is refused at once. Step
metrics: `conflicting_pairs` (task pairs with g_i · g_j < 0) and the task weights `weight_<k>`.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.baselines import adamw
from submissions.lib import mtl

HPARAMS = dict(adamw.HPARAMS)
MULTI_TASK = True  # the conformance suite runs it on gnn and a two-task quadratic


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return mtl.aggregated_optimizer("imtl_g", workload,
                                  adamw.make_optimizer(hparams, workload))


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return mtl.aggregation_metrics(opt_state)
