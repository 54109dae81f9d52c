"""Pairs each run under one folder with the same run made again under another, and compares speed.

Two record trees that hold the same runs (same relative path, same submission, seed and
budget) differ only in the conditions they ran in, say one beside a test suite and one on a
quiet machine. For each pair this prints the process-CPU seconds each took for the same
steps (from step `F`, the later of the two runs' first evals, to step `S`, the earlier of their
last, each time read off the run's evals by linear interpolation), their ratio, the seconds each
took to reach step `F` (compilation, which the persistent compilation cache shortens for a
program compiled before, plus the first steps), both outcomes and time to target,
the 1-minute load averages at start and end, and, where both runs evaluated at the same step,
the largest difference of the target metric there (0 when the runs computed the same thing).
The last lines give the median and range of the ratio over the pairs.

    python scripts/compare_reruns.py results/leaderboard_tiny_withdrawn results/leaderboard_tiny
"""

from __future__ import annotations

import argparse
import bisect
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from algoperf_lab.scoring.records import (RESULT_FILE, CappedRunError, MetricsCurve, RecordError,
                                          read_curve, read_record)


@dataclass(frozen=True)
class RunSide:
  """One run of a pair: where it is and what it recorded."""
  run_dir: Path
  status: str
  time_to_target_sec: float | None
  curve: MetricsCurve
  load_start: float | None
  load_end: float | None


@dataclass(frozen=True)
class RerunPair:
  """The same run made twice; both runs' CPU seconds are compared over steps from_step..steps,
  and `*_start_sec` is the time each took to reach from_step."""
  name: str
  first: RunSide
  second: RunSide
  from_step: int
  steps: int
  first_start_sec: float
  second_start_sec: float
  first_cpu_sec: float
  second_cpu_sec: float
  shared_eval_steps: int
  largest_metric_difference: float | None

  @property
  def ratio(self) -> float:
    """CPU seconds of the first run over the second's, for the same steps."""
    return self.first_cpu_sec / self.second_cpu_sec


def _one_minute_load(moment: object) -> float | None:
  if isinstance(moment, dict) and isinstance(moment.get("load_average"), list):
    return float(moment["load_average"][0])
  return None


def read_side(run_dir: Path) -> RunSide:
  """A finished run's outcome, target-metric curve and load averages. A capped run (a fixed
  number of steps: set-targets' and time-budgets' timing runs) is no result to score but times
  its steps as well as any."""
  raw = json.loads((run_dir / RESULT_FILE).read_text())
  try:
    record = read_record(run_dir / RESULT_FILE)
    status, time_to_target, metric = (record.status, record.time_to_target_sec,
                                      record.target_metric)
  except CappedRunError:
    status, time_to_target, metric = "capped", None, raw["target_metric"]
  return RunSide(run_dir, status, time_to_target, read_curve(run_dir, metric),
                 _one_minute_load(raw.get("started")), _one_minute_load(raw.get("ended")))


def time_at_step(curve: MetricsCurve, step: int) -> float:
  """Submission time at `step`, interpolated linearly between the evals around it."""
  points = sorted((s, t) for s, t in zip(curve.steps, curve.times) if s is not None)
  steps = [s for s, _ in points]
  if not points or not steps[0] <= step <= steps[-1]:
    raise ValueError(f"step {step} lies outside the evals (steps {steps[:1]}..{steps[-1:]})")
  at = bisect.bisect_left(steps, step)
  if steps[at] == step:
    return points[at][1]
  (s0, t0), (s1, t1) = points[at - 1], points[at]
  return t0 + (t1 - t0) * (step - s0) / (s1 - s0)


def _metric_by_step(curve: MetricsCurve) -> dict[int, float]:
  return {s: v for s, v in zip(curve.steps, curve.values) if s is not None}


def pair(name: str, first: RunSide, second: RunSide) -> RerunPair:
  evals = [[s for s in side.curve.steps if s is not None] for side in (first, second)]
  if not all(evals):
    raise ValueError("a run has no evals with steps")
  start, steps = max(min(e) for e in evals), min(max(e) for e in evals)
  if start >= steps:
    raise ValueError(f"the runs share no span of steps (first evals end at {steps})")
  starts = [time_at_step(side.curve, start) for side in (first, second)]
  ends = [time_at_step(side.curve, steps) for side in (first, second)]
  a, b = _metric_by_step(first.curve), _metric_by_step(second.curve)
  shared = sorted(set(a) & set(b))
  return RerunPair(name, first, second, start, steps, *starts, ends[0] - starts[0],
                   ends[1] - starts[1], len(shared),
                   max((abs(a[s] - b[s]) for s in shared), default=None))


def pair_reruns(first_root: Path, second_root: Path) -> tuple[list[RerunPair], list[str]]:
  """Pairs of finished runs at the same relative path under both roots, and what was left out."""
  pairs: list[RerunPair] = []
  left_out: list[str] = []
  for result in sorted(first_root.rglob(RESULT_FILE)):
    name = str(result.parent.relative_to(first_root))
    other = second_root / name
    try:
      pairs.append(pair(name, read_side(result.parent), read_side(other)))
    except (OSError, RecordError, ValueError) as e:
      left_out.append(f"{name}: {e}")
  return pairs, left_out


def _seconds(value: float | None) -> str:
  return "-" if value is None else f"{value:.1f}"


def _load(side: RunSide) -> str:
  return f"{_seconds(side.load_start)}-{_seconds(side.load_end)}"


def format_pairs(pairs: list[RerunPair], left_out: list[str]) -> str:
  lines = ["run | steps | to the first: first, second CPU s | first CPU s | second CPU s | "
           "ratio | first (ttt, load) | "
           "second (ttt, load) | shared evals, largest metric difference"]
  for p in pairs:
    difference = "-" if p.largest_metric_difference is None else f"{p.largest_metric_difference:.2g}"
    lines.append(
        f"{p.name} | {p.from_step}-{p.steps} | {p.first_start_sec:.1f}, "
        f"{p.second_start_sec:.1f} | {p.first_cpu_sec:.1f} | {p.second_cpu_sec:.1f} | "
        f"{p.ratio:.3f} | {p.first.status} ({_seconds(p.first.time_to_target_sec)}, "
        f"{_load(p.first)}) | {p.second.status} ({_seconds(p.second.time_to_target_sec)}, "
        f"{_load(p.second)}) | {p.shared_eval_steps}, {difference}")
  if pairs:
    ratios = [p.ratio for p in pairs]
    same_outcome = sum(p.first.status == p.second.status for p in pairs)
    head = [p.first_start_sec - p.second_start_sec for p in pairs]
    lines.append(f"{len(pairs)} pairs: CPU-time ratio first/second for the same steps, median "
                 f"{statistics.median(ratios):.3f}, range {min(ratios):.3f}-{max(ratios):.3f}; "
                 f"to the first compared step, first minus second: median "
                 f"{statistics.median(head):.1f} s, range {min(head):.1f}-{max(head):.1f} s; "
                 f"same outcome in {same_outcome} of {len(pairs)}")
  lines.extend(f"left out: {reason}" for reason in left_out)
  return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("first", type=Path, help="the runs made first (e.g. the withdrawn ones)")
  parser.add_argument("second", type=Path, help="the same runs made again")
  args = parser.parse_args(argv)
  missing = [str(r) for r in (args.first, args.second) if not r.is_dir()]
  if missing:
    print(f"compare_reruns: no such folder: {', '.join(missing)}", file=sys.stderr)
    return 2
  pairs, left_out = pair_reruns(args.first, args.second)
  print(format_pairs(pairs, left_out))
  return 0 if pairs else 1


if __name__ == "__main__":
  sys.exit(main())
