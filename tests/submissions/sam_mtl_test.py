"""SAM-MTL: plain SAM with one task and linear scalarisation; the two-task rule by hand (both
with the plain-SAM perturbation, `adaptive=False`); the authors' step is
tests/reference/sam_mtl_test.py's."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algoperf_lab import cli
from submissions.lib import aggregators, sam, sam_mtl
from tests.helpers import REPO_ROOT
from tests.workloads.gnn_run_test import SMALL_GNN_RUN_OVERRIDES

CENTRES = jnp.asarray([[-1.0, 0.0], [1.0, -1.0]])  # L_k(w) = ½‖w − a_k‖²


def _task_losses(w: jax.Array) -> jax.Array:
  return 0.5 * jnp.sum((w[None, :] - CENTRES) ** 2, axis=1)


def _direction(aggregator: str, w: jax.Array, rho: float, task_losses=_task_losses):
  tx = sam_mtl.sam_mtl_gradient(aggregators.make_aggregator(aggregator), rho, adaptive=False)
  direction, state = tx.update(jax.grad(lambda p: task_losses(p).sum())(w), tx.init(w), w,
                               task_grads_fn=jax.jacrev(task_losses), task_value_fn=task_losses,
                               task_values=task_losses(w))
  return np.asarray(direction), state


def test_one_task_with_linear_scalarisation_is_sam():
  curvature = jnp.asarray([1.0, 3.0])
  loss = lambda w: 0.5 * jnp.sum(curvature * w ** 2)  # noqa: E731
  w, rho = jnp.asarray([1.0, -0.5]), 0.1
  direction, state = _direction("linear_scalarisation", w, rho,
                                task_losses=lambda p: loss(p)[None])
  tx = sam.sam_gradient(rho)
  value, grads = jax.value_and_grad(loss)(w)
  expected, sam_state = tx.update(grads, tx.init(w), w, value=value, value_fn=loss)
  np.testing.assert_allclose(direction, np.asarray(expected), rtol=1e-6)
  assert float(state.sharpness) == pytest.approx(float(sam_state.sharpness), rel=1e-5)
  assert float(state.perturbation_norm) == pytest.approx(rho, rel=1e-6)


def _pcgrad_mean(u: np.ndarray, v: np.ndarray) -> np.ndarray:
  def project(x, y):
    return x - min(x @ y, 0.0) / (y @ y) * y
  return (project(u, v) + project(v, u)) / 2


def test_two_tasks_aggregate_task_and_flat_components_apart():
  # At w = 0: g_1 = (1, 0), g_2 = (−1, 1); ∇L_k(w + ε_k) = g_k + ε_k, so the flat components
  # are ε_k = ρ g_k / ‖g_k‖ themselves.
  rho = 0.1
  g1, g2 = np.array([1.0, 0.0]), np.array([-1.0, 1.0])
  e1, e2 = rho * g1, rho * g2 / np.sqrt(2.0)
  direction, state = _direction("linear_scalarisation", jnp.zeros(2), rho)
  np.testing.assert_allclose(direction, (g1 + g2) / 2 + (e1 + e2) / 2, rtol=1e-5)
  direction, state = _direction("pcgrad", jnp.zeros(2), rho)
  np.testing.assert_allclose(direction, _pcgrad_mean(g1, g2) + _pcgrad_mean(e1, e2),
                             rtol=1e-5, atol=1e-7)
  assert int(state.conflicting_pairs) == 1 and int(state.flat_conflicting_pairs) == 1
  # L_k(w + ε_k) − L_k(w) = ρ‖g_k‖ + ½ρ², averaged over ‖g_1‖ = 1, ‖g_2‖ = √2
  assert float(state.sharpness) == pytest.approx(rho * (1 + np.sqrt(2.0)) / 2 + 0.5 * rho ** 2,
                                                 rel=1e-5)


def test_it_needs_the_task_extras():
  tx = sam_mtl.sam_mtl_gradient(aggregators.linear_scalarisation, 0.05)
  w = jnp.zeros(2)
  with pytest.raises(ValueError, match="task_value_fn"):
    tx.update(w, tx.init(w), w, task_grads_fn=jax.jacrev(_task_losses))


def test_the_lab_step_passes_task_value_fn_and_logs_its_metrics(tmp_path):
  code = cli.main(["run", "--workload=gnn",
                   f"--submission={REPO_ROOT}/submissions/mtl/sam_mtl.py",
                   f"--workdir={tmp_path / 'run'}", "--max_steps=2", "--eval_every_steps=2",
                   "--no_progress", "--no_checkpoints", *SMALL_GNN_RUN_OVERRIDES])
  assert code == 0
  line = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
  # adaptive ε_k (the default) has no fixed norm: ρ = 2 bounds ‖|θ|⁻¹ ε_k‖ on each part
  assert 0.0 < line["train_step/perturbation_norm"] < np.inf
  assert np.isfinite(line["train_step/sharpness"])
  assert {"train_step/conflicting_pairs", "train_step/flat_conflicting_pairs"} <= set(line)


def test_heads_take_their_own_sam_gradient_and_their_own_norm():
  # L_k = ½‖s − a_k‖² + ½(r_k − b_k)² at s = 0, r = 0: g_k = (−a_k on s, −b_k on r_k). Apart,
  # ε_k = −ρ a_k/‖a_k‖ on s and −ρ sign(b_k) on r_k; the shared direction (linear
  # scalarisation) is mean_k(−a_k − ρ a_k/‖a_k‖), head k's is −b_k − ρ sign(b_k), unaveraged.
  a, b, rho = np.array([[3.0, 4.0], [-1.0, 0.0]]), np.array([2.0, -0.5]), 0.1

  def task_losses(p):
    return (0.5 * jnp.sum((p["shared"][None, :] - a) ** 2, axis=1)
            + 0.5 * (p["readout"] - b) ** 2)

  params = {"shared": jnp.zeros(2), "readout": jnp.zeros(2)}
  tx = sam_mtl.sam_mtl_gradient(aggregators.linear_scalarisation, rho, adaptive=False,
                                task_specific=lambda key: key == "readout")
  direction, _ = tx.update(params, tx.init(params), params, task_grads_fn=jax.jacrev(task_losses),
                           task_value_fn=task_losses)
  norms = np.linalg.norm(a, axis=1, keepdims=True)
  np.testing.assert_allclose(np.asarray(direction["shared"]), np.mean(-a - rho * a / norms, axis=0),
                             rtol=1e-6)
  np.testing.assert_allclose(np.asarray(direction["readout"]), -b - rho * np.sign(b), rtol=1e-6)
