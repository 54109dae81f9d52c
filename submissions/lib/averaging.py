"""Weight averaging around any optax transformation: an EMA, or LAWA's mean of recent snapshots.

Training continues from the base optimizer's parameters; the averages of those parameters
live in the optimizer state, and `averaged_params(opt_state, params)` returns them for
evaluation (a submission's `eval_params`).

- EMA (Polyak & Juditsky 1992, "Acceleration of stochastic approximation by averaging", in
  its exponential form), debiased as Adam debiases its moments (Kingma & Ba 2015, §3): after
  step t, a_t = Σ_{s≤t} (1−β) β^{t−s} x_s / (1 − β^t), kept as the running
  a_t = a_{t−1} + w_t (x_t − a_{t−1}) with w_t = (1 − β) / (1 − β^t), so a_1 = x_1.
- LAWA, latest weight averaging (Kaddour 2022, "Stop Wasting My Time! Saving Days of
  ImageNet and BERT Training with Latest Weight Averaging", arXiv:2209.14981; Sanyal et al.
  2023, "Early Weight Averaging meets High Learning Rates for LLM Pre-training",
  arXiv:2306.03241): every m steps the parameters go into a ring of k snapshots (a leading
  k axis on every leaf); the average is the mean of the snapshots held, at most the last k.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class EmaState(NamedTuple):
  base: optax.OptState
  count: jax.Array  # int32, steps averaged so far
  average: optax.Params  # the debiased EMA of the parameters after each step


class LawaState(NamedTuple):
  base: optax.OptState
  count: jax.Array  # int32, steps taken
  num_snapshots: jax.Array  # int32, snapshots taken so far; the ring holds min(this, k)
  snapshots: optax.Params  # each leaf [k, *leaf.shape], written in order 0, 1, ..., k-1, 0, ...


def _new_params(base: optax.GradientTransformationExtraArgs, updates: optax.Updates,
                base_state: optax.OptState, params: optax.Params | None,
                extra_args: dict[str, Any], name: str) -> tuple[Any, Any, Any]:
  if params is None:
    raise ValueError(f"averaging.{name} averages parameters: call update(grads, state, params) "
                     "with the parameters.")
  updates, base_state = base.update(updates, base_state, params, **extra_args)
  return updates, base_state, optax.apply_updates(params, updates)


def ema(base: optax.GradientTransformation, decay: float,
        debias: bool = True) -> optax.GradientTransformationExtraArgs:
  """`base`, plus the exponential moving average (decay β) of its parameters.

  debias=True: the debiased average above (w_t = (1 − β) / (1 − β^t)). debias=False: PyTorch's
  `AveragedModel` with `get_ema_multi_avg_fn(β)` (torch/optim/swa_utils.py), which copies the
  first iterate and then moves by w_t = 1 − β, a_t = β^{t−1} x_1 + Σ_{2≤s≤t} (1−β) β^{t−s} x_s.
  """
  if not 0.0 <= decay < 1.0:
    raise ValueError(f"EMA decay must lie in [0, 1), got {decay}.")
  base = optax.with_extra_args_support(base)

  def weight(count: jax.Array, dtype: Any) -> jax.Array:
    if debias:
      return (1.0 - decay) / (1.0 - decay ** count.astype(dtype))
    return jnp.where(count == 1, 1.0, 1.0 - decay).astype(dtype)

  def init_fn(params: optax.Params) -> EmaState:
    return EmaState(base=base.init(params), count=jnp.zeros([], jnp.int32),
                    average=jax.tree.map(jnp.array, params))

  def update_fn(updates: optax.Updates, state: EmaState, params: optax.Params | None = None,
                **extra_args: Any) -> tuple[optax.Updates, EmaState]:
    updates, base_state, new_params = _new_params(base, updates, state.base, params, extra_args,
                                                  "ema")
    count = optax.safe_int32_increment(state.count)
    # The weight in the average's precision, at least float32 (float64 in a float64 run).
    average = jax.tree.map(
        lambda a, x: a + (weight(count, jnp.promote_types(a.dtype, jnp.float32))
                          * (x - a)).astype(a.dtype), state.average, new_params)
    return updates, EmaState(base=base_state, count=count, average=average)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def lawa(base: optax.GradientTransformation, num_snapshots: int,
         every_steps: int) -> optax.GradientTransformationExtraArgs:
  """`base`, plus the parameters after every `every_steps`-th step in a ring of `num_snapshots`."""
  if num_snapshots < 1 or every_steps < 1:
    raise ValueError(f"LAWA needs num_snapshots >= 1 and every_steps >= 1, got "
                     f"{num_snapshots} and {every_steps}.")
  base = optax.with_extra_args_support(base)

  def init_fn(params: optax.Params) -> LawaState:
    ring = jax.tree.map(lambda x: jnp.zeros((num_snapshots, *x.shape), x.dtype), params)
    return LawaState(base=base.init(params), count=jnp.zeros([], jnp.int32),
                     num_snapshots=jnp.zeros([], jnp.int32), snapshots=ring)

  def update_fn(updates: optax.Updates, state: LawaState, params: optax.Params | None = None,
                **extra_args: Any) -> tuple[optax.Updates, LawaState]:
    updates, base_state, new_params = _new_params(base, updates, state.base, params, extra_args,
                                                  "lawa")
    count = optax.safe_int32_increment(state.count)
    take = count % every_steps == 0
    slot = state.num_snapshots % num_snapshots

    def write(ring: jax.Array, x: jax.Array) -> jax.Array:
      kept = jnp.where(take, x.astype(ring.dtype), ring[slot])
      return jax.lax.dynamic_update_index_in_dim(ring, kept, slot, axis=0)

    return updates, LawaState(base=base_state, count=count,
                              num_snapshots=state.num_snapshots + take.astype(jnp.int32),
                              snapshots=jax.tree.map(write, state.snapshots, new_params))

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def lawa_average(state: LawaState, params: optax.Params) -> optax.Params:
  """The mean of the snapshots held (the last min(taken, k)); `params` before the first one."""
  held = jnp.minimum(state.num_snapshots, jax.tree.leaves(state.snapshots)[0].shape[0])

  def mean(ring: jax.Array, x: jax.Array) -> jax.Array:
    mask = (jnp.arange(ring.shape[0]) < held).astype(ring.dtype).reshape((-1,) + (1,) * x.ndim)
    average = (ring * mask).sum(axis=0) / jnp.maximum(held, 1).astype(ring.dtype)
    return jnp.where(held > 0, average, x)

  return jax.tree.map(mean, state.snapshots, params)


def _is_average_state(node: Any) -> bool:
  return isinstance(node, (EmaState, LawaState))


def averaged_params(opt_state: optax.OptState, params: optax.Params) -> optax.Params:
  """The averaged parameters of the first EmaState or LawaState found in `opt_state`."""
  found = [node for node in jax.tree.leaves(opt_state, is_leaf=_is_average_state)
           if _is_average_state(node)]
  if not found:
    raise ValueError("the optimizer state holds no EmaState or LawaState; wrap the optimizer "
                     "in averaging.ema(...) or averaging.lawa(...).")
  state = found[0]
  return state.average if isinstance(state, EmaState) else lawa_average(state, params)
