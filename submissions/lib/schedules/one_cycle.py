"""1cycle: the learning rate up and down once, then annihilated; momentum cycled inversely.

Smith, *A disciplined approach to neural network hyper-parameters: Part 1* (2018), Sec. 4,
and Smith & Topin, *Super-Convergence* (2019), as PyTorch's `torch.optim.lr_scheduler.OneCycleLR`
computes it (the de-facto reference; Smith's own code is Caffe solver files). With T = step_hint,
p = pct_start = cycle_fraction / 2 (the fraction of T spent rising), lo = peak / div_factor and
the phase ends e1 = p T - 1, e2 = 2 p T - 2, e3 = T - 1 (floats, as OneCycleLR has them):
  three_phase (Smith's paper; the lab's default):
    [0, e1]:   lr lo -> peak,   momentum b1_max -> b1_min;
    [e1, e2]:  lr peak -> lo,   momentum b1_min -> b1_max;
    [e2, e3]:  lr lo -> lo / final_div_factor,   momentum b1_max;
  two-phase (OneCycleLR's and fastai's default):
    [0, e1]:   lr lo -> peak,   momentum b1_max -> b1_min;
    [e1, e3]:  lr peak -> lo / final_div_factor,   momentum b1_min -> b1_max;
each phase annealed linearly ("linear", the paper's) or by a half cosine ("cos", OneCycleLR's
default). OneCycleLR refuses steps past T; here the rate and momentum hold their step-(T - 1)
values after it. The momentum schedule is Adam's b1 (OneCycleLR sets `betas[0]` for Adam); a
submission feeds both schedules to optax.adamw through `optax.inject_hyperparams`, which
evaluates them at the step count each update.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from submissions.lib.schedules import base

ANNEAL_STRATEGIES = ("linear", "cos")


def _anneal(start: float, end: float, pct: jax.Array, strategy: str) -> jax.Array:
  if strategy == "linear":
    return (end - start) * pct + start
  return end + (start - end) / 2.0 * (jnp.cos(jnp.pi * pct) + 1.0)


def _phases(values: list[float], step_hint: int, cycle_fraction: float, three_phase: bool,
            strategy: str) -> optax.Schedule:
  """Piecewise anneal through `values` (one more than phases) with OneCycleLR's phase ends."""
  if not 0.0 < cycle_fraction <= 1.0:
    raise ValueError(f"cycle_fraction must lie in (0, 1], got {cycle_fraction}.")
  if strategy not in ANNEAL_STRATEGIES:
    raise ValueError(f"unknown anneal strategy {strategy!r}; choose one of "
                     f"{list(ANNEAL_STRATEGIES)}.")
  pct_start = cycle_fraction / 2
  ends = ([pct_start * step_hint - 1, 2 * pct_start * step_hint - 2, step_hint - 1.0]
          if three_phase else [pct_start * step_hint - 1, step_hint - 1.0])
  starts = [0.0, *ends[:-1]]
  # OneCycleLR divides by each phase's length; a tiny step_hint can make one 0 (it then fails).
  lengths = [max(end - start, 1e-9) for start, end in zip(starts, ends)]

  def schedule(step: jax.typing.ArrayLike) -> jax.Array:
    t = jnp.minimum(base.float_step(step), ends[-1])
    value = _anneal(values[-2], values[-1], (t - starts[-1]) / lengths[-1], strategy)
    for i in reversed(range(len(ends) - 1)):  # the first phase whose end t has not passed
      in_phase = _anneal(values[i], values[i + 1], (t - starts[i]) / lengths[i],
                         strategy)
      value = jnp.where(t <= ends[i], in_phase, value)
    return value

  return schedule


def one_cycle_learning_rate(peak_learning_rate: float, step_hint: int, cycle_fraction: float,
                            div_factor: float, final_div_factor: float, three_phase: bool = True,
                            anneal_strategy: str = "linear") -> optax.Schedule:
  low = peak_learning_rate / div_factor
  values = ([low, peak_learning_rate, low, low / final_div_factor] if three_phase
            else [low, peak_learning_rate, low / final_div_factor])
  return _phases(values, step_hint, cycle_fraction, three_phase, anneal_strategy)


def one_cycle_momentum(b1_max: float, b1_min: float, step_hint: int, cycle_fraction: float,
                       three_phase: bool = True, anneal_strategy: str = "linear") -> optax.Schedule:
  values = [b1_max, b1_min, b1_max, b1_max] if three_phase else [b1_max, b1_min, b1_max]
  return _phases(values, step_hint, cycle_fraction, three_phase, anneal_strategy)
