"""The sweep's time left, replayed on a real sweep: the external board's study 0 (90 committed
records, two side by side, 2026-12-06 17:31-20:00 UTC). At every run's end the pace predicts
the minutes left from the runs that had ended; the actual is the time to the last run's end."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from algoperf_lab.sweeps.pace import Pace
from algoperf_lab.sweeps.spec import read_spec
from tests.helpers import REPO_ROOT

STUDY_0 = REPO_ROOT / "results" / "leaderboard_tiny" / "external"


def _runs() -> list[tuple[float, float, object]]:
  runs = []
  for path in STUDY_0.glob("*/*/study_0/trial_*/result.json"):
    record = json.loads(path.read_text())
    moment = lambda key: datetime.fromisoformat(record[key]["utc"]).timestamp()  # noqa: E731
    runs.append((moment("started"), moment("ended"), read_spec(path.parent / "spec.json")))
  return sorted(runs, key=lambda run: run[0])


def test_the_time_left_tracks_a_real_board_sweep():
  runs = _runs()
  assert len(runs) == 90
  last_end = max(end for _, end, _ in runs)
  events = sorted([(start, 1, i) for i, (start, _, _) in enumerate(runs)]
                  + [(end, 0, i) for i, (_, end, _) in enumerate(runs)])
  pace, started, errors = Pace(capacity=2), set(), []
  for when, is_start, i in events:
    if is_start:
      pace.start(str(i), when)
      started.add(i)
      continue
    pace.end(str(i), runs[i][2], when)
    ended = sum(end <= when for _, end, _ in runs)
    running = {str(j): runs[j][2] for j in started if runs[j][1] > when}
    queued = [runs[j][2] for j in range(len(runs)) if j not in started]
    predicted = pace.minutes_left(queued, running, when)
    actual = (last_end - when) / 60
    by_count = (when - runs[0][0]) / ended * (len(runs) - ended) / 60  # the former estimate
    if 10 <= ended < len(runs):
      errors.append((ended, abs(predicted - actual), abs(by_count - actual), actual))
  # From the 10th end on, within 35% of the actual plus 3 minutes, and closer than the count of
  # runs in most places (the count said 157 min where 129 were left, 66 where 16 were).
  assert all(error <= 0.35 * actual + 3 for _, error, _, actual in errors), errors
  assert sum(error < count for _, error, count, _ in errors) >= 0.8 * len(errors)


def test_a_resumed_sweep_knows_its_pace_from_the_records_earlier_sweeps_finished(monkeypatch):
  """The same sweep stopped after its first 45 runs had started and resumed at once: the runs
  that had ended are skipped (engine.finished_before reads their records, wall time included),
  and the estimate at the restart, before any run of the new sweep ends, is within the replay's
  tolerance of the time the rest took."""
  from algoperf_lab.sweeps.engine import finished_before

  monkeypatch.chdir(REPO_ROOT)  # the specs' workdirs are relative to the repository
  runs = _runs()
  restart = runs[45][0]
  done = [spec for _, end, spec in runs if end <= restart]
  left = [spec for _, end, spec in runs if end > restart]
  pace = Pace(capacity=2)
  assert pace.minutes_left(left, {}, restart) is None  # a fresh pace knows nothing
  for spec in done:
    result = finished_before(spec)
    assert result is not None and result.skipped and result.wall_time_sec > 0
    pace.add_earlier(spec, result.wall_time_sec)
  predicted = pace.minutes_left(left, {}, restart)
  actual = (max(end for _, end, _ in runs) - restart) / 60
  assert len(done) >= 40 and abs(predicted - actual) <= 0.35 * actual + 3, (predicted, actual)
