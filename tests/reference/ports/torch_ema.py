"""numpy port of PyTorch's EMA weight averaging, for tests/reference/ema_test.py.

Ported line by line, in float64, from pytorch/pytorch, commit
7c5cdb79c4b58dbaec9e0c9d094548835a1fcf8a, torch/optim/swa_utils.py: `AveragedModel.
update_parameters` (use_buffers False; the parameters only) with `multi_avg_fn=
get_ema_multi_avg_fn(decay)`: the first call copies the model's parameters, later calls
`lerp_(current, 1 − decay)`. `get_ema_multi_avg_fn`'s default decay is 0.999; the test passes
the lab's. Called after each optimizer step, as PyTorch's documentation shows.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


def get_ema_multi_avg_fn(decay: float = 0.999):
  if decay < 0.0 or decay > 1.0:
    raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

  def ema_update(ema_param_list: list[np.ndarray], current_param_list: list[np.ndarray], _):
    for p_ema, p_model in zip(ema_param_list, current_param_list):
      p_ema += (p_model - p_ema) * (1 - decay)  # torch._foreach_lerp_(..., 1 - decay)

  return ema_update


class AveragedModel:

  def __init__(self, params: Params, multi_avg_fn) -> None:
    self.params = {name: p.copy() for name, p in params.items()}  # deepcopy(model)
    self.n_averaged = 0
    self.multi_avg_fn = multi_avg_fn

  def update_parameters(self, model_params: Params) -> None:
    self_params = [self.params[name] for name in model_params]
    current = [np.asarray(p, np.float64) for p in model_params.values()]
    if self.n_averaged == 0:
      for p_averaged, p_model in zip(self_params, current):
        p_averaged[...] = p_model
    if self.n_averaged > 0:
      self.multi_avg_fn(self_params, current, self.n_averaged)
    self.n_averaged += 1
