"""Pieces the schedules share: a linear warmup from 0 and a decay given as a shape of progress."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

# A decay shape: progress z in [0, 1] -> multiplier of the peak learning rate.
Shape = Callable[[jax.Array], jax.Array]


def num_warmup_steps(step_hint: int, warmup_fraction: float) -> int:
  """Warmup length in steps: `int(warmup_fraction * step_hint)`."""
  if not 0.0 <= warmup_fraction <= 1.0:
    raise ValueError(f"warmup_fraction must lie in [0, 1], got {warmup_fraction}.")
  return int(warmup_fraction * step_hint)


def with_linear_warmup(peak_learning_rate: float, warmup_steps: int,
                       after: optax.Schedule) -> optax.Schedule:
  """0 -> peak linearly over steps [0, warmup_steps), then `after(step - warmup_steps)`."""
  warmup = optax.linear_schedule(0.0, peak_learning_rate, transition_steps=max(warmup_steps, 1))
  return optax.join_schedules([warmup, after], boundaries=[warmup_steps])


def progress(step: jax.typing.ArrayLike, num_steps: int) -> jax.Array:
  """step / num_steps as float32, clipped to [0, 1] (num_steps < 1 counts as 1)."""
  return jnp.clip(jnp.asarray(step, jnp.float32) / max(num_steps, 1), 0.0, 1.0)


def shaped_decay(peak_learning_rate: float, num_steps: int, shape: Shape) -> optax.Schedule:
  """peak * shape(step / num_steps), held at the end value after num_steps."""
  return lambda step: peak_learning_rate * shape(progress(step, num_steps))
