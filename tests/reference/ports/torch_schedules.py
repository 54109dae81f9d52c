"""PyTorch's OneCycleLR and CosineAnnealingWarmRestarts, in numpy.

Ported from `pytorch/pytorch` `torch/optim/lr_scheduler.py` at commit
008f727ece1520e12c25089a7969d5b8fca75f8e: `OneCycleLR.__init__` (phase table) and `get_lr`
(with `_annealing_cos` / `_annealing_linear`, momentum cycled as Adam's beta1), and
`CosineAnnealingWarmRestarts.get_lr` / `step()` without an explicit epoch (called once per
batch). Smith's 1cycle (Super-Convergence; *A disciplined approach*, Sec. 4) is OneCycleLR with
`three_phase=True, anneal_strategy="linear"`; SGDR (Loshchilov & Hutter, Eq. 5) is
CosineAnnealingWarmRestarts.
"""

from __future__ import annotations

import math


def _annealing_cos(start: float, end: float, pct: float) -> float:
  cos_out = math.cos(math.pi * pct) + 1
  return end + (start - end) / 2.0 * cos_out


def _annealing_linear(start: float, end: float, pct: float) -> float:
  return (end - start) * pct + start


class OneCycleLR:
  """`lr_and_momentum(step_num)` is what `get_lr` sets for the update after `step_num` steps."""

  def __init__(self, max_lr: float, total_steps: int, pct_start: float = 0.3,
               anneal_strategy: str = "cos", base_momentum: float = 0.85,
               max_momentum: float = 0.95, div_factor: float = 25.0,
               final_div_factor: float = 1e4, three_phase: bool = False):
    self.total_steps = total_steps
    if three_phase:
      self._schedule_phases = [
          {"end_step": float(pct_start * total_steps) - 1, "start_lr": "initial_lr",
           "end_lr": "max_lr", "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
          {"end_step": float(2 * pct_start * total_steps) - 2, "start_lr": "max_lr",
           "end_lr": "initial_lr", "start_momentum": "base_momentum",
           "end_momentum": "max_momentum"},
          {"end_step": total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
           "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
      ]
    else:
      self._schedule_phases = [
          {"end_step": float(pct_start * total_steps) - 1, "start_lr": "initial_lr",
           "end_lr": "max_lr", "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
          {"end_step": total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
           "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
      ]
    self._anneal_func = _annealing_cos if anneal_strategy == "cos" else _annealing_linear
    self.group = {"initial_lr": max_lr / div_factor, "max_lr": max_lr}
    self.group["min_lr"] = self.group["initial_lr"] / final_div_factor
    self.group["max_momentum"] = max_momentum
    self.group["base_momentum"] = base_momentum

  def lr_and_momentum(self, step_num: int) -> tuple[float, float]:
    if step_num > self.total_steps:
      raise ValueError(f"Tried to step {step_num} times. The specified number of total steps "
                       f"is {self.total_steps}")
    group = self.group
    start_step = 0.0
    for i, phase in enumerate(self._schedule_phases):
      end_step = phase["end_step"]
      if step_num <= end_step or i == len(self._schedule_phases) - 1:
        pct = (step_num - start_step) / (end_step - start_step)
        computed_lr = self._anneal_func(group[phase["start_lr"]], group[phase["end_lr"]], pct)
        computed_momentum = self._anneal_func(group[phase["start_momentum"]],
                                              group[phase["end_momentum"]], pct)
        break
      start_step = phase["end_step"]
    return computed_lr, computed_momentum


class CosineAnnealingWarmRestarts:
  """`lr()` is the current learning rate; `step()` advances one batch."""

  def __init__(self, base_lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0):  # noqa: N803
    self.base_lr, self.T_0, self.T_i, self.T_mult, self.eta_min = base_lr, T_0, T_0, T_mult, eta_min
    # LRScheduler.__init__ calls step() once with last_epoch = -1: epoch 0 < T_0.
    self.T_cur = 0

  def lr(self) -> float:
    return (self.eta_min + (self.base_lr - self.eta_min)
            * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2)

  def step(self) -> None:
    self.T_cur = self.T_cur + 1
    if self.T_cur >= self.T_i:
      self.T_cur = self.T_cur % self.T_i
      self.T_i = self.T_i * self.T_mult
