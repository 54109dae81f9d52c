"""Pieces the schedules share: a linear warmup and a decay given as a shape of progress.

Schedules compute in the default float type (float32; float64 when JAX runs in x64, as the
reference tests do), so a float64 run sees the learning rate its formula gives, not a float32
rounding of it.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

# A decay shape: progress z in [0, 1] -> multiplier of the peak learning rate.
Shape = Callable[[jax.Array], jax.Array]


def float_step(step: jax.typing.ArrayLike) -> jax.Array:
  """The step count in the default float type (float32, or float64 under x64)."""
  return jnp.asarray(step, jnp.result_type(float))


def num_warmup_steps(step_hint: int, warmup_fraction: float) -> int:
  """Warmup length in steps: `int(warmup_fraction * step_hint)`."""
  if not 0.0 <= warmup_fraction <= 1.0:
    raise ValueError(f"warmup_fraction must lie in [0, 1], got {warmup_fraction}.")
  return int(warmup_fraction * step_hint)


def with_linear_warmup(peak_learning_rate: float, warmup_steps: int, after: optax.Schedule,
                       start_fraction: float = 0.0) -> optax.Schedule:
  """start -> peak linearly over steps [0, warmup_steps), then `after(step - warmup_steps)`.

  start = start_fraction * peak: 0 as in Hugging Face's `get_*_schedule_with_warmup` (step 0
  trains at 0, step t < w at peak * t / w); epfml/schedules-and-scaling's WSD starts at peak / 100.
  """
  warmup = optax.linear_schedule(start_fraction * peak_learning_rate, peak_learning_rate,
                                 transition_steps=max(warmup_steps, 1))
  joined = optax.join_schedules([warmup, after], boundaries=[warmup_steps])
  return lambda step: joined(float_step(step))


def progress(step: jax.typing.ArrayLike, num_steps: int) -> jax.Array:
  """step / num_steps in the default float type, clipped to [0, 1] (num_steps < 1 counts as 1)."""
  return jnp.clip(float_step(step) / max(num_steps, 1), 0.0, 1.0)


def shaped_decay(peak_learning_rate: float, num_steps: int, shape: Shape) -> optax.Schedule:
  """peak * shape(step / num_steps), held at the end value after num_steps."""
  return lambda step: peak_learning_rate * shape(progress(step, num_steps))
