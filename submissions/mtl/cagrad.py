"""CAGrad (Liu et al. 2021): the conflict-averse direction near the mean gradient, then AdamW.

The direction maximises the worst task's improvement within a ball of radius c‖g₀‖ around
the mean gradient g₀ (`c` is a hyperparameter); checked against a one-dimensional search on a
two-task problem in tests/submissions/mtl_test.py.
The aggregated direction feeds the AdamW baseline (submissions/lib/mtl.py). Multi-task
workloads only (gnn and its variants): a single-task workload is refused at once. Step
metrics: `conflicting_pairs` (task pairs with g_i · g_j < 0) and the task weights `weight_<k>`.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.baselines import adamw
from submissions.lib import aggregators, mtl

HPARAMS = {**adamw.HPARAMS, "cagrad_c": 0.4}
MULTI_TASK = True  # the conformance suite runs it on gnn and a two-task quadratic


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  num_tasks = mtl.require_tasks(workload, "cagrad")
  aggregator = aggregators.make_aggregator("cagrad", c=hparams.cagrad_c)
  return optax.chain(mtl.aggregate_task_gradients(aggregator, num_tasks),
                     adamw.make_optimizer(hparams, workload))


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return mtl.aggregation_metrics(opt_state)
