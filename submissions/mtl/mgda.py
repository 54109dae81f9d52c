"""MGDA (Sener & Koltun 2018): the min-norm convex combination of task gradients, then AdamW.

The exact min-norm point of the task gradients' convex hull, by Wolfe's min-norm point
algorithm on their Gram matrix (submissions/lib/aggregators.py); checked in
tests/reference/mgda_test.py on 2, 3 and 12 tasks against the exact point (every support
tried) and against a port of the authors' MinNormSolver (isl-org/MultiObjectiveOptimization
multi_task/min_norm_solvers.py), which stops when its weights move less than 1e-5 and on 12
tasks can stop far from the optimum (measured there). MGDA-UB's bound on a shared
representation is not exposed by the step, so the min-norm problem is solved on the parameter
gradients.

Defaults and departures: HPARAMS are the AdamW baseline's (submissions/baselines/adamw.py),
the base the lab gives every aggregator (the authors' sample config trains with Adam). The
task gradients are not normalised (the paper's algorithm and LibMTL's default
`mgda_gn='none'`; the authors' code offers 'l2', 'loss' and 'loss+', which their comment calls
"optional and not included in the paper", and their sample.json uses 'loss+'). The weights
sum to one as theirs do, so no rescaling.
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
  return mtl.aggregated_optimizer("mgda", workload,
                                  adamw.make_optimizer(hparams, workload))


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return mtl.aggregation_metrics(opt_state)
