"""Progress over the submission-time budget (or, for a fixed-horizon run, over its steps):
step, time, latest metric vs target.

On a terminal, a live tqdm bar; in a log (stderr not a terminal), one plain line per eval, so a
log file holds no carriage returns, repeated bars or blank lines.
"""

from __future__ import annotations

import sys

from tqdm import tqdm


class RunProgress:
  """Fills as submission time is spent; shows the step and the last eval against the target."""

  def __init__(self, enabled: bool, description: str, budget_sec: float, target_metric: str,
               target_value: float, clock: str = "wall", total_steps: int | None = None):
    self._target = f"{target_metric} target {target_value:g}"
    self._unit = "CPU s" if clock == "process_cpu" else "s"
    self._description = description
    self._budget_sec = budget_sec
    self._total_steps = total_steps  # a fixed-horizon run: the bar counts steps
    self._enabled = enabled
    self._interactive = sys.stderr.isatty()
    bar_unit = "steps" if total_steps is not None else self._unit + " submission time"
    self._bar = tqdm(total=total_steps if total_steps is not None else round(budget_sec, 1),
                     desc=description, unit="s",
                     disable=not (enabled and self._interactive), file=sys.stderr,
                     dynamic_ncols=True, leave=True, mininterval=0.5,
                     bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} "
                                + bar_unit + " [{elapsed} wall{postfix}]")
    self._latest = "no eval yet"
    self._step = 0

  def advance(self, step: int, submission_time_sec: float) -> None:
    self._step = step
    done = step if self._total_steps is not None else submission_time_sec
    delta = min(done, self._bar.total) - self._bar.n
    if delta > 0:
      self._bar.update(delta)

  def on_eval(self, step: int, submission_time_sec: float, metric_value: float) -> None:
    self._latest = f"{metric_value:.4f}"
    self._bar.set_postfix_str(f"step {step}, {self._latest} vs {self._target}", refresh=False)
    self.advance(step, submission_time_sec)
    if self._enabled and not self._interactive:  # a log: one plain line per eval
      where = (f"step {step}/{self._total_steps}, {submission_time_sec:.1f} {self._unit}"
               if self._total_steps is not None else
               f"step {step}, {submission_time_sec:.1f}/{self._budget_sec:.0f} {self._unit}")
      print(f"{self._description}: {where} submission time, {self._latest} vs {self._target}",
            file=sys.stderr, flush=True)

  def close(self) -> None:
    self._bar.close()
