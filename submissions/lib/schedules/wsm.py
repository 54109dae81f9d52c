"""WSM: warmup, then a constant learning rate; evaluate a merge of the last k snapshots.

Tian et al., *WSM: Decay-Free Learning Rate Schedule via Checkpoint Merging for LLM
Pre-training* (2025). The learning rate never decays (`constant.warmup_constant`); instead
`checkpoint_merge` keeps the parameters of every m-th step in the optimizer state, with the
current merge weights: a ring buffer of k slots whose leaves are [k, *parameter shape] (one
leading axis, so a partition rule can shard each as its parameter is sharded).
`merged_params(opt_state, params)` returns the merge to evaluate.

Why a merge emulates a decay (the paper's argument): for snapshots theta_1..theta_n, oldest
first, with Delta_j = theta_j - theta_(j-1), a merge sum_j c_j theta_j with sum_j c_j = 1 is
  theta_0 + sum_j w_j Delta_j,   w_j = sum_(i >= j) c_i,
i.e. the update of interval j applied with its learning rate scaled by w_j (w_1 = 1). Merge
weights chosen from a decay shape f (f(0) = 1, f(1) = 0) through w_j = f((j - 1) / n) are
  c_j = f((j - 1) / n) - f(j / n),
implemented for f = 1 - z ("uniform": c_j = 1 / n, the plain average, emulating linear
decay), f = 1 - sqrt(z) ("1-sqrt") and f = (1 + cos(pi z)) / 2 ("cosine"); and
  "exponential":  c_j = (1 - a) a^(n - j) / (1 - a^n),  0 < a < 1 (`decay`),
an exponential moving average truncated to the window, newest weighted most
(w_j = (1 - a^(n - j + 1)) / (1 - a^n)). Here n = min(snapshots taken, k): until the buffer
is full the merge covers the snapshots there are; before the first one it is the current
parameters. The merge holds snapshots only: it lags the current step by less than m steps.

Against the paper (arXiv:2507.17634, Sec. 3; no authors' code is public): its Theorem 3.1 merges
the k + 1 checkpoints theta_n..theta_(n+k) with c_0 = 1 - w_1, c_j = w_j - w_(j+1), c_k = w_k;
with w_1 = f(0) = 1 the base theta_n gets c_0 = 0, which is this module's merge of the n
snapshots after it. "uniform" is the paper's mean merge (its main results); "1-sqrt" its best
ablation; "exponential" stands for its EMA baseline, truncated to the window and normalised (the
paper's exact EMA form was not readable here). The merge is computed in float32, or float64 for
float64 parameters.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from submissions.lib.schedules import wsd

MERGE_WEIGHTS = ("uniform", "exponential", "1-sqrt", "cosine")
_SHAPE_OF_WEIGHTS = {"uniform": "linear", "1-sqrt": "1-sqrt", "cosine": "cosine"}


class CheckpointMergeState(NamedTuple):
  count: jax.Array  # int32 [], updates seen
  num_taken: jax.Array  # int32 [], snapshots taken so far (slot of the next: num_taken % k)
  coefficients: jax.Array  # float32 [k], the merge weight of each slot (0 while unwritten)
  snapshots: optax.Params  # per parameter leaf [k, *leaf.shape]


def snapshot_interval(step_hint: int, merge_window_fraction: float, num_snapshots: int) -> int:
  """m such that k snapshots every m steps span `merge_window_fraction * step_hint` steps."""
  if num_snapshots < 1:
    raise ValueError(f"num_snapshots must be at least 1, got {num_snapshots}.")
  return max(round(merge_window_fraction * step_hint / num_snapshots), 1)


def checkpoint_merge(num_snapshots: int, every_steps: int, weights: str,
                     decay: float = 0.5) -> optax.GradientTransformation:
  """Passes updates through; after every `every_steps`-th update stores the new parameters.

  Chain it last, after the optimizer: the parameters it stores are `params + updates`.
  `weights` (one of MERGE_WEIGHTS) and `decay` (exponential only) choose the merge.
  """
  if num_snapshots < 1 or every_steps < 1:
    raise ValueError(f"num_snapshots and every_steps must be at least 1, got {num_snapshots} "
                     f"and {every_steps}.")
  _check_weights(weights, decay)

  def init_fn(params: optax.Params) -> CheckpointMergeState:
    return CheckpointMergeState(
        count=jnp.zeros([], jnp.int32), num_taken=jnp.zeros([], jnp.int32),
        coefficients=jnp.zeros([num_snapshots], _merge_dtype(params)),
        snapshots=jax.tree.map(lambda p: jnp.zeros((num_snapshots, *p.shape), p.dtype), params))

  def update_fn(updates: optax.Updates, state: CheckpointMergeState,
                params: optax.Params | None = None) -> tuple[optax.Updates, CheckpointMergeState]:
    if params is None:
      raise ValueError("checkpoint_merge needs the parameters: call update(grads, state, params).")
    count = optax.safe_int32_increment(state.count)
    take = count % every_steps == 0
    slot = state.num_taken % num_snapshots
    new_params = optax.apply_updates(params, updates)

    def store(buffer: jax.Array, param: jax.Array) -> jax.Array:
      kept = jax.lax.dynamic_index_in_dim(buffer, slot, keepdims=False)
      written = jnp.where(take, param.astype(buffer.dtype), kept)
      return jax.lax.dynamic_update_index_in_dim(buffer, written, slot, 0)

    snapshots = jax.tree.map(store, state.snapshots, new_params)
    num_taken = state.num_taken + take.astype(jnp.int32)
    coefficients = merge_coefficients(num_taken, num_snapshots, weights, decay,
                                      state.coefficients.dtype)
    return updates, CheckpointMergeState(count, num_taken, coefficients, snapshots)

  return optax.GradientTransformation(init_fn, update_fn)


def _check_weights(weights: str, decay: float) -> None:
  if weights not in MERGE_WEIGHTS:
    raise ValueError(f"unknown merge weights {weights!r}; choose one of {list(MERGE_WEIGHTS)}.")
  if weights == "exponential" and not 0.0 < decay < 1.0:
    raise ValueError(f"exponential merge weights need 0 < decay < 1, got {decay}.")


def _merge_dtype(params: optax.Params) -> jnp.dtype:
  """float32, or float64 for float64 parameters: the merge never runs below float32."""
  return jnp.promote_types(jnp.result_type(*jax.tree.leaves(params), jnp.float32), jnp.float32)


def merge_coefficients(num_taken: jax.Array, num_snapshots: int, weights: str,
                       decay: float = 0.5, dtype: jnp.dtype = jnp.float32) -> jax.Array:
  """c per buffer slot, [k]: the formulas above, 0 for slots not yet written."""
  _check_weights(weights, decay)
  n = jnp.minimum(num_taken, num_snapshots)
  n_float = jnp.maximum(n, 1).astype(dtype)
  age = jnp.mod(num_taken - 1 - jnp.arange(num_snapshots), num_snapshots)  # 0: the newest
  if weights == "exponential":
    coefficients = (1.0 - decay) * decay**age / (1.0 - decay**n_float)
  else:
    shape = wsd.cooldown_shape(_SHAPE_OF_WEIGHTS[weights])
    position = (n - age).astype(dtype)  # j: 1 the oldest .. n the newest
    coefficients = (shape(jnp.clip((position - 1.0) / n_float, 0.0, 1.0))
                    - shape(jnp.clip(position / n_float, 0.0, 1.0)))
  return jnp.where(age < n, coefficients, 0.0).astype(dtype)


def find_merge_state(opt_state: Any) -> CheckpointMergeState:
  """The one CheckpointMergeState inside an optimizer state (e.g. a chain's tuple)."""
  is_state = lambda x: isinstance(x, CheckpointMergeState)  # noqa: E731
  found = [x for x in jax.tree.leaves(opt_state, is_leaf=is_state) if is_state(x)]
  if len(found) != 1:
    raise ValueError(f"expected one CheckpointMergeState in the optimizer state, found "
                     f"{len(found)}; chain checkpoint_merge(...) once, after the optimizer.")
  return found[0]


def merged_params(opt_state: Any, params: optax.Params) -> optax.Params:
  """The merge of the stored snapshots (the current parameters before the first snapshot)."""
  state = find_merge_state(opt_state)

  def merge(buffer: jax.Array, param: jax.Array) -> jax.Array:
    coefficients = state.coefficients
    merged = jnp.tensordot(coefficients, buffer.astype(coefficients.dtype), axes=1)
    return jnp.where(state.num_taken > 0, merged.astype(param.dtype), param)

  return jax.tree.map(merge, state.snapshots, params)
