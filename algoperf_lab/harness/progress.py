"""A progress bar over the submission-time budget: step, time, latest metric vs target."""

from __future__ import annotations

import sys

from tqdm import tqdm


class RunProgress:
  """Fills as submission time is spent; shows the step and the last eval against the target."""

  def __init__(self, enabled: bool, description: str, budget_sec: float, target_metric: str,
               target_value: float, clock: str = "wall"):
    self._target = f"{target_metric} target {target_value:g}"
    unit = "CPU s" if clock == "process_cpu" else "s"
    interactive = sys.stderr.isatty()
    self._bar = tqdm(total=round(budget_sec, 1), desc=description, unit="s", disable=not enabled,
                     file=sys.stderr, dynamic_ncols=True, leave=True,
                     mininterval=0.5 if interactive else 30.0,
                     bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} "
                                + unit + " submission time [{elapsed} wall{postfix}]")
    self._latest = "no eval yet"
    self._step = 0

  def advance(self, step: int, submission_time_sec: float) -> None:
    self._step = step
    delta = min(submission_time_sec, self._bar.total) - self._bar.n
    if delta > 0:
      self._bar.update(delta)

  def on_eval(self, step: int, submission_time_sec: float, metric_value: float) -> None:
    self._latest = f"{metric_value:.4f}"
    self._bar.set_postfix_str(f"step {step}, {self._latest} vs {self._target}", refresh=False)
    self.advance(step, submission_time_sec)
    if not sys.stderr.isatty():
      self._bar.refresh()  # logs get one line per eval

  def close(self) -> None:
    self._bar.close()
