"""How long a sweep has left, from its own pace: each trial's wall seconds per second of its
budget, measured on the trials that ended in this sweep and on those earlier sweeps of the same
trials finished (their records' wall time: a resumed sweep knows its pace from the start), per
workload where that workload has ended one (evaluations cost more on some: a tiny vit trial
takes about 2.3 wall seconds per budgeted second, an lm one 1.5), else over all of them.

A board mixes 40 s and 200 s budgets, so a count of trials misleads. A running trial is
counted by what its expected wall time has left.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Mapping

from algoperf_lab.sweeps.spec import TrialSpec


@dataclasses.dataclass
class Pace:
  capacity: int  # trials that run side by side
  started: dict[str, float] = dataclasses.field(default_factory=dict)  # key -> start time
  # per workload, over the trials that ended in this sweep: wall seconds, budget seconds
  wall_sec: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
  budget_sec: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
  ended: int = 0  # trials that ended in this sweep
  earlier: int = 0  # trials that earlier sweeps finished, counted by their records' wall time

  def start(self, key: str, now: float) -> None:
    self.started[key] = now

  def end(self, key: str, spec: TrialSpec, now: float) -> None:
    begun = self.started.pop(key, None)
    if begun is None:
      return
    self.wall_sec[spec.workload] += now - begun
    self.budget_sec[spec.workload] += spec.budget_sec
    self.ended += 1

  def add_earlier(self, spec: TrialSpec, wall_sec: float | None) -> None:
    """A trial an earlier sweep finished, with the wall time its record gives (ignored when
    unknown)."""
    if wall_sec is None or wall_sec <= 0 or spec.budget_sec <= 0:
      return
    self.wall_sec[spec.workload] += wall_sec
    self.budget_sec[spec.workload] += spec.budget_sec
    self.earlier += 1

  def expected_wall_sec(self, spec: TrialSpec) -> float:
    """A trial's expected wall time: its budget at its workload's pace (or the sweep's, for a
    workload none of whose trials has ended); the mean trial where budgets are unknown."""
    known = spec.workload if self.budget_sec[spec.workload] > 0 else None
    wall = self.wall_sec[known] if known else sum(self.wall_sec.values())
    budget = self.budget_sec[known] if known else sum(self.budget_sec.values())
    if budget > 0 and spec.budget_sec > 0:
      return spec.budget_sec * wall / budget
    return sum(self.wall_sec.values()) / (self.ended + self.earlier)

  def minutes_left(self, queued: Iterable[TrialSpec], running: Mapping[str, TrialSpec],
                   now: float) -> float | None:
    """Wall minutes until the queued and running trials have ended; None before a trial of
    this sweep, or a recorded one of an earlier sweep, has ended."""
    if not self.ended and not self.earlier:
      return None
    wall = sum(self.expected_wall_sec(s) for s in queued) + sum(
        max(0.0, self.expected_wall_sec(s) - (now - self.started.get(k, now)))
        for k, s in running.items())
    return wall / max(1, self.capacity) / 60.0
