"""Warmup-stable-decay (WSD): warmup, constant peak, then a cooldown to zero at `step_hint`.

Hu et al., *MiniCPM* (2024) introduced the name; Hägele et al., *Scaling Laws and
Compute-Optimal Training Beyond Fixed Training Durations* (NeurIPS 2024) compare cooldown
shapes and find 1 - sqrt best. Their code, `epfml/schedules-and-scaling` `src/optim/utils.py`
`wsd_schedule` (commit 17e78d600a7054bc6609a5ca6d050d141d4ad79e), is what this follows: the
cooldown covers the last c = int(cooldown_fraction * step_hint) steps, starting at
T - c; with progress z = (t - (T - c)) / c through it the multiplier of the peak is
  linear: 1 - z      1-sqrt: 1 - sqrt(z)      cosine: (1 + cos(pi z)) / 2,
and 0 from T on. Their warmup rises linearly from peak / init_div_factor (their `main.py` passes
1e2) rather than from 0: `warmup_start_fraction` = 1 / init_div_factor.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from submissions.lib.schedules import base

COOLDOWN_SHAPES: dict[str, base.Shape] = {
    "linear": lambda z: 1.0 - z,
    "1-sqrt": lambda z: 1.0 - jnp.sqrt(z),
    "cosine": lambda z: 0.5 * (1.0 + jnp.cos(jnp.pi * z)),
}


def cooldown_shape(name: str) -> base.Shape:
  """The shape called `name`; a clear error naming the choices otherwise."""
  if name not in COOLDOWN_SHAPES:
    raise ValueError(f"unknown cooldown shape {name!r}; choose one of {sorted(COOLDOWN_SHAPES)}.")
  return COOLDOWN_SHAPES[name]


def wsd(peak_learning_rate: float, step_hint: int, warmup_fraction: float,
        cooldown_fraction: float, shape: str, warmup_start_fraction: float = 0.0) -> optax.Schedule:
  """Warmup over w steps, peak until T - c, then peak * shape((t - (T - c)) / c); 0 after T."""
  if not 0.0 < cooldown_fraction <= 1.0:
    raise ValueError(f"cooldown_fraction must lie in (0, 1], got {cooldown_fraction}.")
  warmup_steps = base.num_warmup_steps(step_hint, warmup_fraction)
  cooldown_start = max(step_hint - int(cooldown_fraction * step_hint), warmup_steps)
  cooldown = base.shaped_decay(peak_learning_rate, step_hint - cooldown_start,
                               cooldown_shape(shape))
  stable_then_cooldown = optax.join_schedules(
      [optax.constant_schedule(peak_learning_rate), cooldown],
      boundaries=[cooldown_start - warmup_steps])
  return base.with_linear_warmup(peak_learning_rate, warmup_steps, stable_then_cooldown,
                                 warmup_start_fraction)
