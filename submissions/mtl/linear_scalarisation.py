"""Linear scalarisation: AdamW on the mean of the per-task losses (the multi-task baseline).

Every task weighs 1/T, whatever its label count (the workload's own loss weighs tasks by
their labels); the rule is checked in tests/submissions/mtl_test.py. With uniform weights no
per-task gradient is needed: the direction is one backward pass of the mean task loss
(`mtl.mean_task_gradient`), so the step costs about two plain steps, not T backward passes.
It feeds the AdamW baseline (submissions/lib/mtl.py). Multi-task workloads only (gnn and its
variants): a single-task workload is refused at once. No step metrics of its own (the
weights are 1/T; task conflicts are logged by the aggregators that compute task gradients).
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
  return optax.chain(mtl.mean_task_gradient(num_tasks), adamw.make_optimizer(hparams, workload))
