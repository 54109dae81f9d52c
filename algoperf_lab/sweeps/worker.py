"""Runs one trial spec where it stands: the one function every executor ends in.

The run folder keeps the spec as `spec.json` with its content hash; a folder holding another
trial's hash is refused before anything runs.

It is `tune`'s own trial step (tuning.study.run_or_skip_trial): a finished record of this very
trial is skipped, an unfinished one resumes from its last good checkpoint, a record of another
trial is refused; so a retried or duplicated trial never runs twice nor mixes with another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import json

from algoperf_lab import registry, runtime
from algoperf_lab.sweeps.spec import SPEC_FILE, TrialSpec, spec_hash, write_spec


@dataclasses.dataclass(frozen=True)
class TrialResult:
  """How one trial ended, as the engine classifies it."""

  spec: TrialSpec
  status: str  # a record status (reached, missed, diverged, capped, preempted, failed), or
  # "refused" (the trial's request was refused: not retried) or "lost" (the worker died)
  time_to_target_sec: float | None = None
  skipped: bool = False  # already finished: nothing ran
  detail: str = ""  # the error line of a refused, failed or lost trial
  node: str = ""  # where it ran (Ray's node id, a host name), when the executor knows
  wall_time_sec: float | None = None  # a skipped trial's, from its record (the sweep's pace)


def run_trial(spec: TrialSpec, report: Callable[[str], None] = print) -> TrialResult:
  """Runs (or skips) the trial in this process; the record on disk says how it ended."""
  from algoperf_lab.tuning import study as tuning  # tuning runs its trials through the engine

  if spec.label and not spec.label.startswith("study "):  # e.g. a calibration run's name
    report(spec.label)
  _check_spec(spec, tuning.TuningError)
  runtime.use_compilation_cache(spec.compilation_cache)
  request = tuning.TuneRequest(
      workload=spec.workload, size=spec.size, submission=spec.submission,
      workdir=spec.run_dir.parent.parent, ruleset=tuning.Ruleset(spec.ruleset),
      config_overrides=spec.config_overrides, settings=spec.run_settings())
  plan = tuning.TrialPlan(study=spec.study, trial=spec.trial, seed=spec.seed,
                          hparams=dict(spec.hparams), workdir=spec.run_dir)
  workload = registry.make_workload(spec.workload, spec.size, spec.config_overrides)
  config = workload.config.to_dict() if hasattr(workload, "config") else None  # type: ignore[attr-defined]
  record = tuning.trial_settings(spec.run_settings(), spec.budget_sec)
  outcome = tuning.run_or_skip_trial(request, plan, config, record, spec.budget_sec,
                                     frozenset(spec.extra_known_hparams), report)
  if not (spec.run_dir / SPEC_FILE).is_file() and spec.run_dir.is_dir():
    write_spec(spec, spec.run_dir / SPEC_FILE)  # the folder now holds this trial
  return TrialResult(spec=spec, status=outcome.status,
                     time_to_target_sec=outcome.time_to_target_sec, skipped=outcome.skipped)


def _check_spec(spec: TrialSpec, error: type[Exception]) -> None:
  """A run folder's spec.json names the trial it holds (by content hash): another trial's
  folder is refused before anything runs (and nothing is written). A folder with a record is
  left to tune's own check, which names what differs (settings, hyperparameters, config)."""
  path = spec.run_dir / SPEC_FILE
  if not path.is_file() or (spec.run_dir / "result.json").is_file():
    return
  try:
    stored = json.loads(path.read_text()).get("spec_hash")
  except (OSError, json.JSONDecodeError, AttributeError):
    stored = None
  if stored is not None and stored != spec_hash(spec):
    raise error(f"{spec.run_dir} holds trial {stored} (its spec.json), not this one "
                f"({spec_hash(spec)}): its hyperparameters, seed, config or settings differ; "
                "use another folder (or delete that one) so that results are never mixed.")
