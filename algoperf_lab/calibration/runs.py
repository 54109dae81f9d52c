"""Every run of a calibration, addressed like tuning trials, run (or skipped) as one sweep
(algoperf_lab/sweeps/, any executor).

Layout: `WORKDIR/<method>/candidate_<i>/candidate.json` (the candidate's hyperparameters, a
one-point search space) and its runs `WORKDIR/<method>/candidate_<i>/<workload>/study_<s>/
trial_0/`, one per seed index s: each is an ordinary tuning trial (algoperf_lab/tuning/study.py)
of that one point, so a finished run is skipped, an unfinished one resumes from its last good
checkpoint, records of another configuration are refused, and any subset can be run alone
(`--method`, `--candidate`, `--workload`, `--seed`) by a scheduler. Seed s is the tuning seed of
study s, the same for every candidate and method, so candidates are compared on paired seeds.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from algoperf_lab import runner
from algoperf_lab.calibration.candidates import Candidate, CalibrationError
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.sweeps.engine import run_sweep
from algoperf_lab.sweeps.executors import Executor, LocalExecutor
from algoperf_lab.tuning import study
from algoperf_lab.tuning.study import Ruleset, TuneRequest

CANDIDATE_FILE = "candidate.json"


@dataclasses.dataclass(frozen=True)
class RunPlan:
  candidate: Candidate
  submission: str  # the submission file
  workload: str
  seed_index: int

  @property
  def key(self) -> tuple[str, int, str, int]:
    return (self.candidate.method, self.candidate.index, self.workload, self.seed_index)

  @property
  def label(self) -> str:
    return (f"{self.candidate.method} candidate {self.candidate.index} on {self.workload} "
            f"seed {self.seed_index}")


@dataclasses.dataclass(frozen=True)
class RunFilter:
  """Runs only the matching part of the plan (None: all); for schedulers and resumption tests."""
  method: str | None = None
  candidate: int | None = None
  workload: str | None = None
  seed_index: int | None = None

  def matches(self, plan: RunPlan) -> bool:
    return ((self.method is None or plan.candidate.method == self.method)
            and (self.candidate is None or plan.candidate.index == self.candidate)
            and (self.workload is None or plan.workload == self.workload)
            and (self.seed_index is None or plan.seed_index == self.seed_index))


def candidate_dir(workdir: Path, candidate: Candidate) -> Path:
  return workdir / candidate.method / f"candidate_{candidate.index}"


def workload_dir(workdir: Path, candidate: Candidate, workload: str) -> Path:
  return candidate_dir(workdir, candidate) / workload


def run_dir(workdir: Path, plan: RunPlan) -> Path:
  return study.trial_dir(workload_dir(workdir, plan.candidate, plan.workload), plan.seed_index, 0)


def write_candidate_file(workdir: Path, candidate: Candidate) -> Path:
  """candidate.json (a one-point search space); an existing one must hold the same point."""
  path = candidate_dir(workdir, candidate) / CANDIDATE_FILE
  point = json.loads(json.dumps(dict(candidate.hparams)))
  if path.is_file():
    stored = json.loads(path.read_text())
    if stored != [point]:
      raise CalibrationError(
          f"{path} holds another configuration than {candidate.method} candidate "
          f"{candidate.index} of this request (its candidate space or defaults changed); use "
          "another --workdir (or delete that folder) so that results are never mixed.")
    return path
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_suffix(".json.tmp")
  tmp.write_text(json.dumps([point], indent=2, sort_keys=True) + "\n")
  tmp.replace(path)
  return path


def is_finished(workdir: Path, plan: RunPlan) -> bool:
  return study.recorded_status(run_dir(workdir, plan)) in runner.FINISHED_STATUSES


@dataclasses.dataclass(frozen=True)
class ExecutionOutcome:
  ran: int  # runs started (resumed or new)
  preempted: bool  # SIGTERM arrived: the calibration stopped, resumable


def check_filter_matches(plans: Sequence[RunPlan], run_filter: RunFilter) -> None:
  """Refuses a filter that selects no run, naming the values it could have taken."""
  if any(run_filter.matches(p) for p in plans):
    return
  choices = {
      "--method": (run_filter.method, sorted({p.candidate.method for p in plans})),
      "--candidate": (run_filter.candidate, sorted({p.candidate.index for p in plans})),
      "--workload": (run_filter.workload, sorted({p.workload for p in plans})),
      "--seed_index": (run_filter.seed_index, sorted({p.seed_index for p in plans})),
  }
  unknown = [f"{flag}={value} (choose from {', '.join(map(str, known))})"
             for flag, (value, known) in choices.items()
             if value is not None and value not in known]
  what = "; ".join(unknown) if unknown else "the combination of filters selects no run"
  raise CalibrationError(f"no planned run matches {what}; nothing was run.")


def execute(plans: Sequence[RunPlan], workdir: Path, *, size: str, base_seed: int,
            config_overrides: tuple[str, ...], settings: RunSettings, run_filter: RunFilter,
            report: Callable[[str], None] = print, executor: Executor | None = None,
            rerun_hint: str = "") -> ExecutionOutcome:
  """Runs every unfinished planned run the filter selects, as one sweep.

  A diverged run is recorded as `diverged` (a miss) and the calibration goes on; a preempted
  one (SIGTERM) stops the calibration: the same command resumes it.
  """
  check_filter_matches(plans, run_filter)
  specs = []
  for plan in plans:
    if not run_filter.matches(plan) or is_finished(workdir, plan):
      continue
    candidate_file = write_candidate_file(workdir, plan.candidate)
    _, (spec,) = study.tuning_specs(TuneRequest(
        workload=plan.workload, size=size, submission=plan.submission,
        workdir=workload_dir(workdir, plan.candidate, plan.workload), ruleset=Ruleset.EXTERNAL,
        num_studies=plan.seed_index + 1, num_trials=1, search_space=str(candidate_file),
        seed=base_seed, only_study=plan.seed_index, only_trial=0,
        config_overrides=config_overrides, settings=settings))
    specs.append(dataclasses.replace(spec, label=plan.label))
  outcome = run_sweep(specs, executor or LocalExecutor(lambda line: report(f"  {line}")),
                      report=report, rerun_hint=rerun_hint)
  for result in outcome.results:
    if result.status == "diverged":
      report(f"  {result.spec.label}: diverged (recorded as a miss); going on")
  preempted = outcome.stopped or any(r.status == "preempted" for r in outcome.results)
  return ExecutionOutcome(sum(not r.skipped for r in outcome.results), preempted=preempted)
