"""WSM's checkpoint merge on a toy problem whose parameters after step t are t^2 (times a scale).

Snapshots every 2 steps into 3 slots: after step 8 the buffer holds the parameters of steps 4,
6 and 8 (step 2's slot was overwritten), i.e. 16, 36 and 64; the merges below are worked out by
hand from the formulas in submissions/lib/schedules/wsm.py.
"""

from __future__ import annotations

import math
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from algoperf_lab import hyperparameters
from submissions.lib.schedules import wsm
from submissions.schedules import wsm as wsm_submission

NUM_SNAPSHOTS = 3
EVERY_STEPS = 2
SCALES = {"a": np.array([1.0, -2.0], np.float32), "b": np.full((2, 3), 0.5, np.float32)}


def _params_after(steps: int, weights: str,
                  decay: float = 0.5) -> tuple[optax.Params, optax.Params]:
  """(current params, eval params) after `steps` updates of size (2t - 1) * scale."""
  merge = wsm.checkpoint_merge(NUM_SNAPSHOTS, EVERY_STEPS, weights, decay)
  params = jax.tree.map(jnp.zeros_like, SCALES)
  state = merge.init(params)
  update = jax.jit(merge.update)
  for t in range(1, steps + 1):
    updates = jax.tree.map(lambda s: (2 * t - 1) * s, SCALES)  # noqa: B023
    updates, state = update(updates, state, params)
    params = optax.apply_updates(params, updates)
  return params, jax.jit(wsm.merged_params)(state, params)


def _assert_scaled(tree: optax.Params, value: float) -> None:
  for leaf, scale in zip(jax.tree.leaves(tree), jax.tree.leaves(SCALES)):
    np.testing.assert_allclose(leaf, value * scale, rtol=1e-5)


@pytest.mark.parametrize("weights, expected", [
    ("uniform", (16 + 36 + 64) / 3),
    # c_j = (1 - a) a^(n - j) / (1 - a^n), a = 1/2: newest weighted 1, then 1/2, then 1/4.
    ("exponential", (1 * 64 + 0.5 * 36 + 0.25 * 16) / (1 + 0.5 + 0.25)),
    # w = f(0), f(1/3), f(2/3) = 1, 3/4, 1/4 for f(z) = (1 + cos(pi z)) / 2; c = 1/4, 1/2, 1/4.
    ("cosine", 0.25 * 16 + 0.5 * 36 + 0.25 * 64),
    # w = 1, 1 - sqrt(1/3), 1 - sqrt(2/3); c_j = w_j - w_(j+1) with w_4 = 0.
    ("1-sqrt", (math.sqrt(1 / 3) * 16 + (math.sqrt(2 / 3) - math.sqrt(1 / 3)) * 36
                + (1 - math.sqrt(2 / 3)) * 64)),
])
def test_merge_of_a_wrapped_buffer(weights, expected):
  params, merged = _params_after(8, weights)
  _assert_scaled(params, 8**2)
  _assert_scaled(merged, expected)
  _, merged_later = _params_after(9, weights)  # step 9 takes no snapshot: same merge
  _assert_scaled(merged_later, expected)


def test_merge_covers_only_the_snapshots_taken_so_far():
  params, merged = _params_after(1, "uniform")  # no snapshot yet: the current parameters
  _assert_scaled(merged, 1.0)
  _assert_scaled(_params_after(3, "exponential")[1], 2**2)  # one snapshot, step 2
  _assert_scaled(_params_after(4, "uniform")[1], (4 + 16) / 2)
  _assert_scaled(_params_after(4, "exponential")[1], (1 * 16 + 0.5 * 4) / (1 + 0.5))


def test_merge_equals_updates_applied_with_decayed_rates():
  # The docstring's claim: sum_j c_j theta_j = theta_0 + sum_j w_j Delta_j with w_j = f((j-1)/n);
  # for uniform weights over n = 3 snapshots w = 1, 2/3, 1/3.
  _, merged = _params_after(8, "uniform")
  theta_2, deltas = 2**2, (4**2 - 2**2, 6**2 - 4**2, 8**2 - 6**2)
  _assert_scaled(merged, theta_2 + 1 * deltas[0] + 2 / 3 * deltas[1] + 1 / 3 * deltas[2])


def test_snapshot_buffer_has_a_leading_axis_per_parameter_leaf():
  state = wsm.checkpoint_merge(NUM_SNAPSHOTS, EVERY_STEPS, "uniform").init(SCALES)
  assert isinstance(state, wsm.CheckpointMergeState)
  assert jax.tree.map(jnp.shape, state.snapshots) == {"a": (3, 2), "b": (3, 2, 3)}


def test_unknown_merge_weights_are_refused_by_name():
  with pytest.raises(ValueError, match=r"unknown merge weights 'mean'; choose one of"):
    wsm.checkpoint_merge(NUM_SNAPSHOTS, EVERY_STEPS, "mean")
  with pytest.raises(ValueError, match="0 < decay < 1"):
    wsm.checkpoint_merge(NUM_SNAPSHOTS, EVERY_STEPS, "exponential", decay=1.0)


def test_submission_eval_params_merge_the_adamw_iterates():
  # step_hint 20, window 0.2, 2 snapshots: one every round(0.2 * 20 / 2) = 2 steps.
  hparams = hyperparameters.make_hyperparameters(
      wsm_submission.HPARAMS, {"num_snapshots": 2, "merge_window_fraction": 0.2}, "wsm")
  optimizer = wsm_submission.make_optimizer(hparams, types.SimpleNamespace(step_hint=20))
  params = {"w": jnp.array([1.0, -1.0])}
  state = optimizer.init(params)
  iterates = []
  for _ in range(4):
    grads = jax.grad(lambda p: jnp.sum(p["w"] ** 2))(params)
    updates, state = optimizer.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    iterates.append(params["w"])
  merged = wsm_submission.eval_params(state, params)
  np.testing.assert_allclose(merged["w"], (iterates[1] + iterates[3]) / 2, rtol=1e-6)
  assert not np.allclose(merged["w"], params["w"])
