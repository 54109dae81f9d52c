"""Learning-rate multipliers of Hugging Face `transformers`' warmup schedules, in numpy.

Ported from `huggingface/transformers` `src/transformers/optimization.py` at commit
005edacb6b5dabbf0843e92c6623de9e07ca6241: the `lr_lambda` of `get_constant_schedule_with_warmup`,
`get_linear_schedule_with_warmup`, `get_cosine_schedule_with_warmup`,
`get_cosine_with_min_lr_schedule_with_warmup` (`min_lr_rate`) and `get_inverse_sqrt_schedule`
(timescale defaulting to the warmup length). `LambdaLR` multiplies the optimizer's lr by
`lr_lambda(current_step)`, current_step = 0 for the first update. These are the de-facto
references for warmup + cosine (Loshchilov & Hutter, SGDR Eq. 5 without restarts), linear decay
to zero (D2Z), constant after warmup, and the rescaled inverse square root (Vaswani et al., Eq. 3).
"""

from __future__ import annotations

import math


def constant_with_warmup(current_step: int, *, num_warmup_steps: int) -> float:
  if current_step < num_warmup_steps:
    return float(current_step) / float(max(1.0, num_warmup_steps))
  return 1.0


def linear_with_warmup(current_step: int, *, num_warmup_steps: int,
                       num_training_steps: int) -> float:
  if current_step < num_warmup_steps:
    return float(current_step) / float(max(1, num_warmup_steps))
  return max(0.0, float(num_training_steps - current_step)
             / float(max(1, num_training_steps - num_warmup_steps)))


def cosine_with_warmup(current_step: int, *, num_warmup_steps: int, num_training_steps: int,
                       num_cycles: float = 0.5, min_lr_rate: float = 0.0) -> float:
  """`get_cosine_schedule_with_warmup` (min_lr_rate 0) and its `with_min_lr` variant."""
  if current_step < num_warmup_steps:
    return float(current_step) / float(max(1, num_warmup_steps))
  progress = float(current_step - num_warmup_steps) / float(
      max(1, num_training_steps - num_warmup_steps))
  factor = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress))
  factor = factor * (1 - min_lr_rate) + min_lr_rate
  return max(0, factor)


def inverse_sqrt(current_step: int, *, num_warmup_steps: int,
                 timescale: int | None = None) -> float:
  if timescale is None:
    timescale = num_warmup_steps or 10_000
  if current_step < num_warmup_steps:
    return float(current_step) / float(max(1, num_warmup_steps))
  shift = timescale - num_warmup_steps
  decay = 1.0 / math.sqrt((current_step + shift) / timescale)
  return decay
