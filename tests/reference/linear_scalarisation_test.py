"""Linear scalarisation (submissions/mtl/linear_scalarisation.py) beside LibMTL's equal
weighting (tests/reference/ports/mtl_weighting.py `equal_weighting`, LibMTL/weighting/EW.py)
composed with the numpy AdamW, on the 2, 3 and 12-task toy of tests/reference/mtl_aggregators.py.

EW sums the task losses; the lab takes their mean (the submission's docstring says why), so the
port's direction is scaled by 1/T before AdamW. RTOL = 1e-12; measured 2026-12-05 over 30
steps: 3.0e-17 (2 tasks), 5.6e-17 (3), 1.4e-17 (12), through the per-task path
(`task_value_fn`) and through the workload's own loss gradient alike. The authors' sum scale
would move the AdamW trajectory by 1.6e-9 / 2.5e-8 / 4.1e-9 (AdamW's ε only).

Also here: where the workload declares its loss the mean of its task losses (gnn,
gnn_noisy_task), the submission costs what AdamW costs: its update never calls
`task_value_fn` and traces to as many operations as AdamW's (a jaxpr count, not a timing).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from algoperf_lab import registry
from submissions.baselines import adamw
from tests.reference import common, mtl_aggregators
from tests.reference.ports import mtl_weighting as port

COVERS = ["submissions/mtl/linear_scalarisation.py"]
PATH = COVERS[0]
RTOL = 1e-12


@dataclasses.dataclass
class MeanLossToyWorkload(common.ToyWorkload):
  """The toy, declaring what is true of it: its loss is the mean of its task losses."""

  loss_is_mean_of_task_losses: bool = True


@pytest.mark.parametrize("num_tasks", mtl_aggregators.TASK_COUNTS)
def test_matches_equal_weighting(num_tasks):
  mtl_aggregators.check_problem(num_tasks)
  worst = mtl_aggregators.compare(PATH, num_tasks, lambda g, step: port.equal_weighting(g),
                                  RTOL, lab_scale=1.0 / num_tasks)
  assert worst <= RTOL


@pytest.mark.parametrize("num_tasks", mtl_aggregators.TASK_COUNTS)
def test_the_loss_gradient_path_matches_equal_weighting(num_tasks):
  params, x, readouts, y = mtl_aggregators.make_problem(num_tasks)
  module = common.submission_module(PATH)
  workload = MeanLossToyWorkload(params=params, num_tasks=num_tasks)
  with common.float64():
    task_losses = lambda p: mtl_aggregators.lab_task_losses(p, x, readouts, y)  # noqa: E731
    lab = common.run_lab(common.lab_optimizer(module, workload), params,
                         lambda p: jnp.mean(task_losses(p)), common.REFERENCE_STEPS,
                         task_losses_fn=task_losses).iterates
  reference = mtl_aggregators.run_reference(
      PATH, num_tasks, lambda g, step: port.equal_weighting(g), 1.0 / num_tasks)
  assert common.assert_trajectories_match(lab, reference, RTOL) <= RTOL


def _update_jaxpr_size(optimizer: optax.GradientTransformation, params: dict,
                       task_value_fn) -> int:
  optimizer = optax.with_extra_args_support(optimizer)
  state = optimizer.init(params)
  jaxpr = jax.make_jaxpr(lambda g, s, p: optimizer.update(g, s, p, task_value_fn=task_value_fn))(
      params, state, params)
  return len(jaxpr.eqns)


def test_costs_what_adamw_costs_where_the_loss_is_the_task_mean():
  params, x, readouts, y = mtl_aggregators.make_problem(12)
  calls = []

  def task_value_fn(p):
    calls.append(1)
    return mtl_aggregators.lab_task_losses(p, x, readouts, y)

  module = common.submission_module(PATH)
  hparams = common.lab_hparams(module)
  uniform = MeanLossToyWorkload(params=params, num_tasks=12)
  masked = common.ToyWorkload(params=params, num_tasks=12)
  plain = _update_jaxpr_size(adamw.make_optimizer(hparams, uniform), params, task_value_fn)
  cheap = _update_jaxpr_size(module.make_optimizer(hparams, uniform), params, task_value_fn)
  assert not calls and cheap == plain
  exact = _update_jaxpr_size(module.make_optimizer(hparams, masked), params, task_value_fn)
  assert calls and exact > plain  # one forward and one backward pass of the task losses


@pytest.mark.parametrize("name, uniform", [("gnn", True), ("gnn_noisy_task", True),
                                           ("gnn_low_resource_task", False)])
def test_gnn_workloads_declare_whether_their_loss_is_the_task_mean(name, uniform):
  workload = registry.make_workload(name, "tiny")
  assert workload.loss_is_mean_of_task_losses is uniform
  assert registry.make_workload(name, "full").loss_is_mean_of_task_losses is False  # molpcba


def test_the_declaration_holds_on_a_padded_batch_with_every_label():
  workload = registry.make_workload("gnn", "tiny")
  rng = np.random.default_rng(0)
  labels, logits = rng.normal(size=(2, 8, workload.num_tasks))
  weights = np.ones((8, workload.num_tasks))
  weights[6:] = 0.0  # two padding graphs
  losses = workload.loss_fn(jnp.asarray(labels), jnp.asarray(logits), jnp.asarray(weights))
  mean_loss = losses["summed"] / losses["n_valid_examples"]
  task_mean = jnp.mean(workload.per_task_loss_fn(jnp.asarray(labels), jnp.asarray(logits),
                                                 jnp.asarray(weights)))
  np.testing.assert_allclose(float(mean_loss), float(task_mean), rtol=1e-6)
  weights[:5, 1] = 0.0  # gnn_low_resource_task's masking: task 1 unlabelled on most graphs
  losses = workload.loss_fn(jnp.asarray(labels), jnp.asarray(logits), jnp.asarray(weights))
  task_mean = jnp.mean(workload.per_task_loss_fn(jnp.asarray(labels), jnp.asarray(logits),
                                                 jnp.asarray(weights)))
  assert abs(float(losses["summed"] / losses["n_valid_examples"]) - float(task_mean)) > 1e-3
