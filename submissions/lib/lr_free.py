"""Pieces the learning-rate-free submissions share: a logged step size, state lookup, schedule.

- `with_step_size(inner, step_size_fn)` runs `inner` and keeps, in a NamedTuple state, the step
  size its last update took (MoMo's τ, COCOB's mean per-coordinate step), for methods whose own
  state does not hold it; `train_metrics` then logs it.
- `find_state(opt_state, StateType)` finds a method's state inside the chains and wrappers
  the submission composes, so `train_metrics` can read d, η or s from it.
- `multiplier_schedule(workload, warmup_factor, decay_to)`: the schedule the D-Adaptation and
  Prodigy authors multiply their estimate by (peak 1: linear warmup, then cosine decay to
  `decay_to`; `decay_to=1` is a constant after warmup).
- `scalar_dtype(params)`: the dtype of a method's scalar state (d, Mechanic's s): float32, or
  float64 where the parameters are (the reference tests run in float64).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from algoperf_lab import spec
from submissions.lib.schedules.cosine import warmup_cosine

# (updates, params before the update, inner state after it) -> the step size, a scalar.
StepSizeFn = Callable[[optax.Updates, optax.Params, optax.OptState], jax.Array]


class StepSizeState(NamedTuple):
  inner: optax.OptState
  step_size: jax.Array  # float32 scalar: the step size of the last update (0 before any)


def with_step_size(inner: optax.GradientTransformation,
                   step_size_fn: StepSizeFn) -> optax.GradientTransformationExtraArgs:
  """`inner`, unchanged, plus the step size of its last update in the state."""
  inner = optax.with_extra_args_support(inner)

  def init_fn(params: optax.Params) -> StepSizeState:
    return StepSizeState(inner=inner.init(params), step_size=jnp.zeros([], jnp.float32))

  def update_fn(updates: optax.Updates, state: StepSizeState, params: optax.Params | None = None,
                **extra_args: Any) -> tuple[optax.Updates, StepSizeState]:
    new_updates, inner_state = inner.update(updates, state.inner, params, **extra_args)
    step_size = jnp.asarray(step_size_fn(new_updates, params, inner_state), jnp.float32)
    return new_updates, StepSizeState(inner=inner_state, step_size=step_size)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def find_state(opt_state: Any, state_type: type) -> Any:
  """The first `state_type` inside `opt_state` (a chain's tuple, a wrapper's fields)."""
  if isinstance(opt_state, state_type):
    return opt_state
  if isinstance(opt_state, (tuple, list)):
    for member in opt_state:
      found = find_state(member, state_type)
      if found is not None:
        return found
  return None


def multiplier_schedule(workload: spec.Workload, warmup_factor: float,
                        decay_to: float) -> optax.Schedule:
  """Peak 1: linear warmup over `warmup_factor` of step_hint, cosine decay to `decay_to`."""
  if not 0.0 <= decay_to <= 1.0:
    raise ValueError(f"decay_to must lie in [0, 1] (1 keeps the multiplier constant), got "
                     f"{decay_to}.")
  return warmup_cosine(1.0, workload.step_hint, warmup_factor, final_fraction=decay_to)


def scalar_dtype(params: optax.Params) -> jnp.dtype:
  """float32, or float64 where the parameters are."""
  return jnp.promote_types(jnp.float32, optax.tree.dtype(params, "highest"))
