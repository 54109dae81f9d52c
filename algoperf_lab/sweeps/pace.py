"""How long a sweep has left, from its own pace: each trial's wall seconds per second of its
budget, measured on the trials that ended in this sweep.

A board mixes 40 s and 200 s budgets, so a count of trials misleads; a trial's wall time is
close to proportional to its budget on one workload (evaluations and compilation on top of
the budgeted work). A running trial is counted by what its expected wall time has left.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from algoperf_lab.sweeps.spec import TrialSpec


@dataclasses.dataclass
class Pace:
  capacity: int  # trials that run side by side
  started: dict[str, float] = dataclasses.field(default_factory=dict)  # key -> start time
  ended_wall_sec: float = 0.0  # wall seconds of the trials that ended in this sweep
  ended_budget_sec: float = 0.0  # their budgets
  ended: int = 0

  def start(self, key: str, now: float) -> None:
    self.started[key] = now

  def end(self, key: str, spec: TrialSpec, now: float) -> None:
    begun = self.started.pop(key, None)
    if begun is None:
      return
    self.ended_wall_sec += now - begun
    self.ended_budget_sec += spec.budget_sec
    self.ended += 1

  def minutes_left(self, queued: Iterable[TrialSpec], running: Mapping[str, TrialSpec],
                   now: float) -> float | None:
    """Wall minutes until the queued and running trials have ended; None before a trial of
    this sweep has ended."""
    if not self.ended:
      return None
    queued = list(queued)
    if self.ended_budget_sec > 0:
      per_budget_sec = self.ended_wall_sec / self.ended_budget_sec
      expected = lambda spec: spec.budget_sec * per_budget_sec  # noqa: E731
    else:  # budgets unknown: every trial takes the mean wall time so far
      mean = self.ended_wall_sec / self.ended
      expected = lambda spec: mean  # noqa: E731
    wall = sum(expected(s) for s in queued) + sum(
        max(0.0, expected(s) - (now - self.started.get(k, now))) for k, s in running.items())
    return wall / max(1, self.capacity) / 60.0
