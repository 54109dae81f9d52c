"""1cycle: the learning rate up and down once, then annihilated; momentum cycled inversely.

Smith, *A disciplined approach to neural network hyper-parameters: Part 1* (2018), Sec. 4,
and Smith & Topin, *Super-Convergence* (2019). With T = step_hint, c = cycle_fraction,
u = int(c * T / 2) and lo = peak / div_factor:
  steps [0, u):     lr rises linearly lo -> peak,  momentum falls b1_max -> b1_min;
  steps [u, 2u):    lr falls linearly peak -> lo,  momentum rises b1_min -> b1_max;
  steps [2u, T]:    lr falls linearly lo -> lo / final_div_factor,  momentum stays b1_max.
The momentum schedule is Adam's b1; a submission feeds both schedules to optax.adamw through
`optax.inject_hyperparams`, which evaluates them at the step count each update.
"""

from __future__ import annotations

import optax


def _three_phases(start: float, middle: float, end_of_cycle: float, final: float,
                  step_hint: int, cycle_fraction: float) -> optax.Schedule:
  if not 0.0 < cycle_fraction <= 1.0:
    raise ValueError(f"cycle_fraction must lie in (0, 1], got {cycle_fraction}.")
  half = max(int(cycle_fraction * step_hint / 2), 1)
  return optax.join_schedules(
      [optax.linear_schedule(start, middle, half),
       optax.linear_schedule(middle, end_of_cycle, half),
       optax.linear_schedule(end_of_cycle, final, max(step_hint - 2 * half, 1))],
      boundaries=[half, 2 * half])


def one_cycle_learning_rate(peak_learning_rate: float, step_hint: int, cycle_fraction: float,
                            div_factor: float, final_div_factor: float) -> optax.Schedule:
  low = peak_learning_rate / div_factor
  return _three_phases(low, peak_learning_rate, low, low / final_div_factor, step_hint,
                       cycle_fraction)


def one_cycle_momentum(b1_max: float, b1_min: float, step_hint: int,
                       cycle_fraction: float) -> optax.Schedule:
  return _three_phases(b1_max, b1_min, b1_max, b1_max, step_hint, cycle_fraction)
