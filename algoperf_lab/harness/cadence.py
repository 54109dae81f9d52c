"""When to evaluate: every `period_sec` of submission time (AlgoPerf) or every N steps."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class EvalCadence:
  """Decides whether an eval is due; the one place where eval periods are counted.

  With `every_steps` set, evals fall at steps N, 2N, ...; otherwise at the first step whose
  submission time is at least `period_sec` past the previous eval (AlgoPerf's rule).
  """

  period_sec: float
  every_steps: int | None = None
  last_eval_time_sec: float = 0.0

  def __post_init__(self) -> None:
    if self.every_steps is not None and self.every_steps <= 0:
      raise ValueError(f"eval_every_steps must be positive, got {self.every_steps}.")
    if self.every_steps is None and self.period_sec <= 0:
      raise ValueError(f"eval_period_time_sec must be positive, got {self.period_sec}.")

  def is_due(self, step: int, submission_time_sec: float) -> bool:
    if self.every_steps is not None:
      return step > 0 and step % self.every_steps == 0
    return submission_time_sec - self.last_eval_time_sec >= self.period_sec

  def mark_evaluated(self, submission_time_sec: float) -> None:
    self.last_eval_time_sec = submission_time_sec
