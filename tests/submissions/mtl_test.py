"""Gradient aggregators on two-task problems solved by hand, and the aggregating transformation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from algoperf_lab import cli
from submissions.lib import aggregators, mtl
from tests.helpers import REPO_ROOT, SMALL_LM_OVERRIDES

KEY = jax.random.PRNGKey(0)


def _direction(name: str, *rows: list[float], **options: float) -> np.ndarray:
  g_TxP = jnp.asarray(rows, jnp.float32)
  weights_T = aggregators.make_aggregator(name, **options)(g_TxP @ g_TxP.T, KEY)
  return np.asarray(weights_T @ g_TxP)


def test_linear_scalarisation_is_the_mean_gradient():
  np.testing.assert_allclose(_direction("linear_scalarisation", [1, 0], [0, 3]), [0.5, 1.5])


def test_pcgrad_projects_conflicting_gradients_apart():
  # g1 = (1, 0), g2 = (-1, 1), g1·g2 = -1: g1' = g1 + g2/2 = (.5, .5), g2' = g2 + g1 = (0, 1).
  np.testing.assert_allclose(_direction("pcgrad", [1, 0], [-1, 1]), [0.25, 0.75], atol=1e-6)


def test_pcgrad_leaves_agreeing_gradients_alone():
  np.testing.assert_allclose(_direction("pcgrad", [1, 0], [1, 1]), [1.0, 0.5], atol=1e-6)


def test_pcgrad_order_comes_from_the_key_deterministically():
  g_TxP = jnp.asarray([[1, 0], [-1, 1], [0.2, -1]], jnp.float32)
  gram = g_TxP @ g_TxP.T
  first = aggregators.pcgrad(gram, mtl.step_key(0, jnp.int32(3)))
  again = aggregators.pcgrad(gram, mtl.step_key(0, jnp.int32(3)))
  np.testing.assert_array_equal(np.asarray(first), np.asarray(again))
  # Whatever the order, a projected g_i ends with no conflict against the last g_j it met,
  # and the three gradients conflict pairwise here, so some projection changed the weights.
  assert not np.allclose(np.asarray(first), 1 / 3)


def test_mgda_finds_the_min_norm_point():
  # min over γ of ‖γ(2, 0) + (1 − γ)(0, 1)‖² = 4γ² + (1 − γ)²: γ = 0.2, the point (0.4, 0.8).
  np.testing.assert_allclose(_direction("mgda", [2, 0], [0, 1]), [0.4, 0.8], atol=1e-5)
  # A gradient inside the hull's min-norm direction wins outright: (1, 0) vs (2, 0).
  np.testing.assert_allclose(_direction("mgda", [1, 0], [2, 0]), [1.0, 0.0], atol=1e-5)


def test_imtl_g_gives_equal_projections_on_the_unit_gradients():
  # d = α(1, 0) + (1 − α)(0, 2) with d·u1 = d·u2: α = 2(1 − α), α = 2/3, d = (2/3, 2/3).
  np.testing.assert_allclose(_direction("imtl_g", [1, 0], [0, 2]), [2 / 3, 2 / 3], atol=1e-5)
  rows = [[1.0, 0.5, -0.2], [-0.3, 2.0, 0.1], [0.4, -0.1, 3.0]]
  d = _direction("imtl_g", *rows)
  units = np.asarray(rows) / np.linalg.norm(rows, axis=1, keepdims=True)
  projections = units @ d
  np.testing.assert_allclose(projections, projections[0], rtol=1e-4)


def test_cagrad_solves_its_dual_on_two_tasks():
  g1, g2, c = np.array([1.0, 0.0]), np.array([-0.5, 1.0]), 0.5
  g0 = (g1 + g2) / 2
  # The dual over w = (γ, 1 − γ) is one-dimensional: a fine grid is its exact answer.
  gammas = np.linspace(0.0, 1.0, 100_001)
  gw = gammas[:, None] * g1 + (1 - gammas[:, None]) * g2
  dual = gw @ g0 + c * np.linalg.norm(g0) * np.linalg.norm(gw, axis=1)
  best = gw[np.argmin(dual)]
  expected = (g0 + c * np.linalg.norm(g0) / np.linalg.norm(best) * best) / (1 + c ** 2)
  np.testing.assert_allclose(_direction("cagrad", g1, g2, c=c), expected, atol=2e-3)


def test_cagrad_with_c_zero_is_linear_scalarisation():
  np.testing.assert_allclose(_direction("cagrad", [1, 0], [-0.5, 1], c=0.0), [0.25, 0.5],
                             atol=1e-6)


def test_conflicting_pairs_counts_negative_inner_products():
  g_TxP = jnp.asarray([[1, 0], [-1, 1], [1, 1]], jnp.float32)
  assert int(aggregators.conflicting_pairs(g_TxP @ g_TxP.T)) == 1


def test_unknown_aggregator_is_named():
  with pytest.raises(ValueError, match="unknown aggregator 'nash'"):
    aggregators.make_aggregator("nash")


def test_the_transformation_aggregates_a_pytree_of_task_gradients_and_counts_steps():
  params = {"a": jnp.zeros((2,)), "b": jnp.zeros((1, 1))}
  task_grads = {"a": jnp.asarray([[1.0, 0.0], [-1.0, 1.0]]), "b": jnp.zeros((2, 1, 1))}
  tx = optax.chain(mtl.aggregate_task_gradients(aggregators.pcgrad, 2), optax.sgd(1.0))
  state = tx.init(params)
  updates, state = tx.update(params, state, params, task_grads_fn=lambda p: task_grads)
  np.testing.assert_allclose(np.asarray(updates["a"]), [-0.25, -0.75], atol=1e-6)
  metrics = mtl.aggregation_metrics(state)
  assert int(metrics["conflicting_pairs"]) == 1 and set(metrics) >= {"weight_0", "weight_1"}
  assert int(mtl.find_state(state, mtl.AggregationState).count) == 1


def test_linear_scalarisation_takes_one_backward_pass_of_the_mean_task_loss():
  # L_1 = ½‖x − (1, 0)‖², L_2 = ½(3·x_2 − 1)²: at x = 0, g_1 = (−1, 0), g_2 = (0, −3), so the
  # mean-task-loss gradient is (−0.5, −1.5), what the uniform aggregator computes from the g_k.
  def task_losses(p):
    x = p["x"]
    return jnp.stack([0.5 * jnp.sum((x - jnp.asarray([1.0, 0.0])) ** 2),
                      0.5 * (3.0 * x[1] - 1.0) ** 2])

  params = {"x": jnp.zeros((2,))}
  cheap = mtl.mean_task_gradient(2)
  direction, _ = cheap.update(params, cheap.init(params), params, task_value_fn=task_losses)
  np.testing.assert_allclose(np.asarray(direction["x"]), [-0.5, -1.5], atol=1e-6)
  full = mtl.aggregate_task_gradients(aggregators.linear_scalarisation, 2)
  reference, _ = full.update(params, full.init(params), params,
                             task_grads_fn=jax.jacrev(task_losses))
  np.testing.assert_allclose(np.asarray(direction["x"]), np.asarray(reference["x"]), atol=1e-6)
  # Where the workload's loss is the mean task loss already, its gradient passes through.
  passthrough = mtl.mean_task_gradient(2, loss_is_task_mean=True)
  kept, _ = passthrough.update({"x": jnp.ones((2,))}, passthrough.init(params), params)
  np.testing.assert_array_equal(np.asarray(kept["x"]), [1.0, 1.0])
  with pytest.raises(ValueError, match="task_value_fn"):
    cheap.update(params, cheap.init(params), params)


def test_the_transformation_needs_task_gradients():
  tx = mtl.aggregate_task_gradients(aggregators.linear_scalarisation, 2)
  params = {"a": jnp.zeros((2,))}
  with pytest.raises(ValueError, match="task_grads_fn"):
    tx.update(params, tx.init(params), params)


def test_a_multi_task_submission_refuses_a_single_task_workload_in_one_line(tmp_path, capsys):
  code = cli.main(["run", "--workload=lm", f"--submission={REPO_ROOT}/submissions/mtl/pcgrad.py",
                   f"--workdir={tmp_path / 'run'}", "--max_steps=1", "--no_progress",
                   "--no_checkpoints", *SMALL_LM_OVERRIDES])
  error = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(error) == 1 and "has one task" in error[0]
