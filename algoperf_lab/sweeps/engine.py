"""The sweep engine: hands trial specs to an executor, retries what a retry can fix, and ends
with a table of what happened and the command that runs only what is left.

Retries know a preemption from a failure:
- **preempted** (the trial was stopped by SIGTERM and saved a checkpoint) while the sweep
  itself is not being stopped: resubmitted without limit; it resumes from its checkpoint;
- **lost** (the worker process or node died without a final record): resubmitted up to
  `max_lost_retries` times; it resumes from its last checkpoint (the harness resumes exactly);
- **failed** (the submission or its setup raised) and **refused** (the request was refused: a
  record of another trial in its folder, a bad config): recorded, never retried.
SIGTERM or Ctrl-C on the driver cancels the running trials (each checkpoints and records
`preempted`), submits nothing more, and prints the rerun command: nothing is lost. SIGUSR1
drains it instead: nothing new starts, the running trials finish, then it stops the same way
(a resumed trial recompiles, and its clock is charged for it; a drained one never resumes).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import signal
import time
from collections.abc import Callable, Iterator, Sequence

from algoperf_lab.harness.preemption import signal_sets_flag, sigterm_requests_preemption
from algoperf_lab.harness.records import RESULT_FILE
from algoperf_lab.scoring import records as scoring_records
from algoperf_lab.sweeps.executors import Executor
from algoperf_lab.sweeps.pace import Pace
from algoperf_lab.sweeps.spec import SPEC_FILE, TrialSpec, spec_hash
from algoperf_lab.sweeps.worker import TrialResult

FINISHED = ("reached", "missed", "diverged", "capped")
NOT_RETRIED = ("failed", "refused")
HANDED_OFF = ("submitted",)  # given to a scheduler that runs it elsewhere (slurm)
MAX_LOST_RETRIES = 3


class DuplicateTrialError(ValueError):
  """A sweep was given the same trial twice; the message names both."""


def refuse_duplicate_trials(specs: Sequence[TrialSpec]) -> None:
  """A sweep tracks its trials by spec hash, which leaves out the folder: two specs that differ
  only in workdir (or label, or compilation_cache) are one trial to it, and running both would
  end the sweep when the first ends, with the second's worker left unsupervised."""
  seen: dict[str, TrialSpec] = {}
  for spec in specs:
    key = spec_hash(spec)
    if key in seen:
      raise DuplicateTrialError(
          f"the sweep holds the same trial twice ({seen[key].workdir} and {spec.workdir}: spec "
          f"hash {key}, which leaves out the folder, label and compilation_cache); a sweep runs "
          "each trial once. To repeat a trial, give the copy another seed, or run it in a "
          "sweep of its own.")
    seen[key] = spec


@dataclasses.dataclass(frozen=True)
class SweepOutcome:
  results: tuple[TrialResult, ...]  # the last result of every trial that ended
  left: tuple[TrialSpec, ...]  # trials not finished (never started, or stopped)
  stopped: bool  # the driver was asked to stop (SIGTERM or a preempted local trial)

  def count(self, status: str) -> int:
    return sum(r.status == status for r in self.results)

  def finished_line(self, total: int) -> str:
    """'F of N runs finished', then what did not finish (preempted, failed, ...) and what is
    left."""
    counts = collections.Counter(r.status for r in self.results if r.status not in FINISHED)
    rest = [f"{n} {status}" for status, n in sorted(counts.items())]
    rest += [f"{len(self.left)} left"] if self.left else []
    return (f"{sum(self.count(s) for s in FINISHED)} of {total} runs finished"
            + (f" ({', '.join(rest)})" if rest else ""))


def _table(outcome: SweepOutcome) -> str:
  counts = collections.Counter(r.status for r in outcome.results)
  done = sum(counts[s] for s in FINISHED)
  parts = [f"{done} done ({', '.join(f'{counts[s]} {s}' for s in FINISHED if counts[s])})"
           if done else "0 done"]
  parts += [f"{counts[s]} {s}" for s in ("failed", "refused", "lost", *HANDED_OFF) if counts[s]]
  parts.append(f"{len(outcome.left)} left")
  return "sweep: " + ", ".join(parts)


def _progress(total: int, results: dict[str, TrialResult], running: int,
              minutes_left: float | None) -> str:
  eta = (f", about {minutes_left:.0f} min left"
         if minutes_left is not None and len(results) < total else "")
  failed = sum(r.status in NOT_RETRIED for r in results.values())
  return f"[sweep] {len(results)}/{total} ended, {running} running, {failed} failed{eta}"


def finished_before(spec: TrialSpec) -> TrialResult | None:
  """The trial's own finished record (its folder's spec.json names this very spec), read
  without starting a worker; None when it has to go to the executor (which also skips a
  finished record of this trial that predates spec.json)."""
  try:
    stored = json.loads((spec.run_dir / SPEC_FILE).read_text()).get("spec_hash")
    record = json.loads((spec.run_dir / RESULT_FILE).read_text())
  except (OSError, ValueError, AttributeError):
    return None
  if stored != spec_hash(spec) or record.get("status") not in FINISHED:
    return None
  try:
    scoring_records.refuse_contradicted_record(spec.run_dir / RESULT_FILE)
  except scoring_records.RecordError:
    return None  # its history contradicts it: the worker refuses it, naming the path
  wall = record.get("wall_time_sec")
  return TrialResult(spec, record["status"], record.get("time_to_target_sec"), skipped=True,
                     wall_time_sec=float(wall) if isinstance(wall, (int, float)) else None)


@contextlib.contextmanager
def _cancel_on_ctrl_c(executor: Executor, report: Callable[[str], None]) -> Iterator[None]:
  """Ctrl-C on the driver: the running trials are stopped like a preemption (each checkpoints
  and records its status) before the interrupt goes on; no worker is left behind."""
  try:
    yield
  except KeyboardInterrupt:
    if executor.name != "local":  # a local trial was interrupted in this very process
      report("interrupted (Ctrl-C): stopping the running trials (each saves a checkpoint)...")
      executor.cancel()
    raise


def run_sweep(specs: Sequence[TrialSpec], executor: Executor, *,
              report: Callable[[str], None] = print, rerun_hint: str = "",
              max_lost_retries: int = MAX_LOST_RETRIES,
              show_progress: bool = True) -> SweepOutcome:
  """Runs every spec to an end (finished, failed or refused) unless the driver is stopped."""
  refuse_duplicate_trials(specs)
  running: dict[str, TrialSpec] = {}
  results: dict[str, TrialResult] = {}
  for spec in specs:
    if (done := finished_before(spec)) is not None:
      results[spec_hash(spec)] = done
  if results:
    report(f"{len(results)} of {len(specs)} trials already finished (skipped: their records "
           "stand)")
  queue = collections.deque(s for s in specs if spec_hash(s) not in results)
  lost: collections.Counter[str] = collections.Counter()
  pace = Pace(capacity=executor.capacity)
  for done in results.values():
    pace.add_earlier(done.spec, done.wall_time_sec)
  stopped = False
  shown = ""
  draining = False
  with (sigterm_requests_preemption() as preemption, signal_sets_flag(signal.SIGUSR1) as drain,
        _cancel_on_ctrl_c(executor, report)):
    while queue or running:
      if preemption.requested:
        stopped = True
        for result in executor.cancel():
          running.pop(spec_hash(result.spec), None)
          results[spec_hash(result.spec)] = result
        break
      while (queue and len(running) < executor.capacity and not preemption.requested
             and not drain.requested):
        spec = queue.popleft()
        running[spec_hash(spec)] = spec
        executor.submit(spec)
        pace.start(spec_hash(spec), time.monotonic())
      if drain.requested and not draining:
        draining = True
        report(f"draining (SIGUSR1): nothing new starts; the {len(running)} running trial(s) "
               "finish first")
      for result in executor.poll(timeout_sec=0.5):
        key = spec_hash(result.spec)
        running.pop(key, None)
        if result.status == "preempted" and (executor.name == "local" or preemption.requested):
          results[key] = result  # this process is being stopped: end the sweep here
          stopped = True
        elif result.status == "preempted":
          report(f"{result.spec.label}: preempted; resubmitted (it resumes from its checkpoint)")
          queue.append(result.spec)
        elif result.status == "lost" and lost[key] < max_lost_retries:
          lost[key] += 1
          report(f"{result.spec.label}: {result.detail}; resubmitted ({lost[key]} of "
                 f"{max_lost_retries}), resuming from its last checkpoint")
          queue.append(result.spec)
        else:
          results[key] = result
          if result.status in FINISHED:  # a failure or refusal says nothing about the pace
            pace.end(key, result.spec, time.monotonic())
          if result.status in NOT_RETRIED + ("lost",):  # submitted trials are not news
            report(f"{result.spec.label}: {result.status}: {result.detail}")
      if stopped:
        for result in executor.cancel():
          running.pop(spec_hash(result.spec), None)
          results[spec_hash(result.spec)] = result
        break
      if draining and not running:
        stopped = bool(queue)
        break
      line = _progress(len(specs), results, len(running),
                       pace.minutes_left(queue, running, time.monotonic()))
      if show_progress and executor.name != "local" and line.split(", about")[0] != shown:
        report(line)
        shown = line.split(", about")[0]
  left = tuple(s for s in specs
               if spec_hash(s) not in results or results[spec_hash(s)].status not in
               FINISHED + NOT_RETRIED + HANDED_OFF)
  outcome = SweepOutcome(results=tuple(results.values()), left=left, stopped=stopped)
  for line in getattr(executor, "finish", lambda: [])():
    report(line)
  if executor.name != "local" or stopped or left:
    report(_table(outcome))
    if left and rerun_hint:
      report(f"run the same command again to run only what is left: {rerun_hint}")
  return outcome
