"""SGDR: cosine annealing with warm restarts, its cycles fitted to `step_hint`.

Loshchilov & Hutter, *SGDR: Stochastic Gradient Descent with Warm Restarts* (ICLR 2017),
Eq. 5 with eta_min = 0: within a cycle of length T_i, lr = peak * (1 + cos(pi * T_cur / T_i)) / 2;
each cycle is `cycle_mult` (the paper's T_mult) times longer than the one before. Here the
number of cycles is fixed instead of T_0, so the last cycle ends at step_hint: after w warmup
steps the D = step_hint - w remaining steps split into cycles starting at
  s_i = round(D * (m^i - 1) / (m^n - 1))   (m = cycle_mult > 1),   s_i = round(D * i / n)   (m = 1).
When (m^n - 1) divides D this is PyTorch's `CosineAnnealingWarmRestarts(T_0 = D (m - 1) /
(m^n - 1), T_mult = m)` step for step (tests/reference/schedules_test.py).
"""

from __future__ import annotations

import optax

from submissions.lib.schedules import base


def cycle_starts(num_steps: int, num_cycles: int, cycle_mult: float) -> list[int]:
  """The first step of each cycle, and num_steps as the end of the last one."""
  if num_cycles < 1:
    raise ValueError(f"num_cycles must be at least 1, got {num_cycles}.")
  if cycle_mult < 1.0:
    raise ValueError(f"cycle_mult must be at least 1 (each cycle no shorter), got {cycle_mult}.")
  if cycle_mult == 1.0:
    fractions = [i / num_cycles for i in range(num_cycles + 1)]
  else:
    fractions = [(cycle_mult**i - 1.0) / (cycle_mult**num_cycles - 1.0)
                 for i in range(num_cycles + 1)]
  return [round(num_steps * f) for f in fractions]


def warmup_sgdr(peak_learning_rate: float, step_hint: int, warmup_fraction: float,
                num_cycles: int, cycle_mult: float) -> optax.Schedule:
  warmup_steps = base.num_warmup_steps(step_hint, warmup_fraction)
  starts = cycle_starts(step_hint - warmup_steps, num_cycles, cycle_mult)
  cycles = [optax.cosine_decay_schedule(peak_learning_rate, decay_steps=max(end - start, 1))
            for start, end in zip(starts[:-1], starts[1:])]
  restarts = optax.join_schedules(cycles, boundaries=starts[1:-1])
  return base.with_linear_warmup(peak_learning_rate, warmup_steps, restarts)
