"""PCGrad (Yu et al. 2020, gradient surgery): conflicting task gradients projected apart, then AdamW.

Each task gradient drops its component along every task gradient it conflicts with (its own
included, as in the authors' loop), in a random order drawn from the step count
(deterministic); checked step by step against a port of the authors' code (tianheyu927/PCGrad
PCGrad_tf.py) in tests/reference/pcgrad_test.py on 2, 3 and 12 tasks.

Defaults and departures: PCGrad has no hyperparameter of its own; HPARAMS are the AdamW
baseline's (submissions/baselines/adamw.py), the base the lab gives every aggregator (the
authors wrap any optimizer). The lab averages the projected gradients where the authors' code
sums them: the mean keeps linear scalarisation's scale, so the baseline's learning rate and
weight decay carry over (AdamW sees the sum only through its ε; measured in the test). The
random order is the paper's (Alg. 1; LibMTL and Pytorch-PCGrad shuffle too): the authors' TF
code calls `tf.random.shuffle` but discards its result.
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
  return mtl.aggregated_optimizer("pcgrad", workload,
                                  adamw.make_optimizer(hparams, workload))


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return mtl.aggregation_metrics(opt_state)
