"""WSD's learning-rate multiplier as its authors' code computes it.

Numpy port of `wsd_schedule` in `epfml/schedules-and-scaling` `src/optim/utils.py` at commit
17e78d600a7054bc6609a5ca6d050d141d4ad79e (Hägele et al., *Scaling Laws and Compute-Optimal
Training Beyond Fixed Training Durations*, NeurIPS 2024); `src/main.py` there passes
`init_div_factor=1e2` and `final_lr_factor=args.wsd_final_lr_scale` (default 0.0) to a `LambdaLR`.
`decay_type` "sqrt" is the 1 - sqrt cooldown.
"""

from __future__ import annotations

import math


def wsd_schedule(n_iterations: int, final_lr_factor: float = 0.0, n_warmup: int = 1000,
                 init_div_factor: float = 100, fract_decay: float = 0.1,
                 decay_type: str = "linear"):
  n_anneal_steps = int(fract_decay * n_iterations)
  n_hold = n_iterations - n_anneal_steps

  def schedule(step: int) -> float:
    if step < n_warmup:
      return (step / n_warmup) + (1 - step / n_warmup) / init_div_factor
    elif step < n_hold:
      return 1.0
    elif step < n_iterations:
      if decay_type == "linear":
        return final_lr_factor + (1 - final_lr_factor) * (1 - (step - n_hold) / n_anneal_steps)
      elif decay_type == "exp":
        return final_lr_factor ** ((step - n_hold) / n_anneal_steps)
      elif decay_type == "cosine":
        return (final_lr_factor + (1 - final_lr_factor)
                * (1 + math.cos(math.pi * (step - n_hold) / n_anneal_steps)) * 0.5)
      elif decay_type == "square":
        return final_lr_factor + (1 - final_lr_factor) * (
            1 - ((step - n_hold) / n_anneal_steps) ** 2)
      elif decay_type == "sqrt":
        return final_lr_factor + (1 - final_lr_factor) * (
            1 - math.sqrt((step - n_hold) / n_anneal_steps))
      else:
        raise ValueError(f"decay type {decay_type} is not supported here")
    else:
      return final_lr_factor

  return schedule
