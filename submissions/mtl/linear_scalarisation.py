"""Linear scalarisation: AdamW on the mean of the per-task losses (the multi-task baseline).

Every task weighs 1/T, whatever its label count (the workload's own loss weighs tasks by
their labels). LibMTL's equal weighting (`LibMTL/weighting/EW.py`) sums the task losses,
weight 1 each; the lab takes their mean, 1/T of that direction, so that the AdamW baseline's
learning rate and weight decay carry over (AdamW is invariant to the scale up to its ε; the
difference is measured in tests/reference/linear_scalarisation_test.py, which checks the
trajectory against a port of EW composed with AdamW on 2, 3 and 12 tasks).

With uniform weights no per-task gradient is needed. Where the workload declares that its loss
is already the mean of its task losses (`loss_is_mean_of_task_losses`: gnn and gnn_noisy_task,
where every molecule labels all 12 tasks) the step's own loss gradient is the direction and the
step costs what plain AdamW's costs; elsewhere (gnn_low_resource_task masks one task's labels)
the direction is one extra backward pass of the mean task loss (`mtl.mean_task_gradient`), not
T. Multi-task workloads only (gnn and its variants): a single-task workload is refused at once.
No step metrics of its own (the weights are 1/T; task conflicts are logged by the aggregators
that compute task gradients).

Defaults: HPARAMS are the AdamW baseline's (submissions/baselines/adamw.py); EW has none.
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
  num_tasks = mtl.require_tasks(workload, "linear_scalarisation")
  return optax.chain(
      mtl.mean_task_gradient(num_tasks, mtl.loss_is_mean_of_task_losses(workload)),
      adamw.make_optimizer(hparams, workload))
