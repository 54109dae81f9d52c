"""CAGrad (Liu et al. 2021): the conflict-averse direction near the mean gradient, then AdamW.

The direction maximises the worst task's improvement within a ball of radius c‖g₀‖ around
the mean gradient g₀; its dual over the task weights is solved exactly (submissions/lib/
aggregators.py). Checked step by step against a port of the authors' code (Cranial-XIX/CAGrad
nyuv2/utils.py, SciPy's SLSQP for the dual) in tests/reference/cagrad_test.py on 2, 3 and 12
tasks.

Defaults and departures: `cagrad_c` = 0.4, the c of the authors' NYUv2 runs (nyuv2/run.sh,
`--alpha 0.4`; their argparse default and LibMTL's is 0.5); the rescaling d / (1 + c²) is
theirs (`rescale=1`). Other HPARAMS are the AdamW baseline's (submissions/baselines/adamw.py),
the base the lab gives every aggregator (the authors train with Adam). The lab's direction has
the mean task gradient's scale where the authors multiply by T "to match the sum loss": the
baseline's learning rate carries over (AdamW sees it only through its ε; measured in the test).
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
