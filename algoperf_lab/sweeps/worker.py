"""Runs one trial spec where it stands: the one function every executor ends in.

It is `tune`'s own trial step (tuning.study.run_or_skip_trial): a finished record of this very
trial is skipped, an unfinished one resumes from its last good checkpoint, a record of another
trial is refused; so a retried or duplicated trial never runs twice nor mixes with another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from algoperf_lab import registry
from algoperf_lab.sweeps.spec import TrialSpec


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


def run_trial(spec: TrialSpec, report: Callable[[str], None] = print) -> TrialResult:
  """Runs (or skips) the trial in this process; the record on disk says how it ended."""
  from algoperf_lab.tuning import study as tuning  # tuning runs its trials through the engine

  if spec.label and not spec.label.startswith("study "):  # e.g. a calibration run's name
    report(spec.label)
  request = tuning.TuneRequest(
      workload=spec.workload, size=spec.size, submission=spec.submission,
      workdir=spec.run_dir.parent.parent, ruleset=tuning.Ruleset(spec.ruleset)
      if spec.ruleset in ("external", "self") else tuning.Ruleset.EXTERNAL,
      config_overrides=spec.config_overrides, settings=spec.run_settings())
  plan = tuning.TrialPlan(study=spec.study, trial=spec.trial, seed=spec.seed,
                          hparams=dict(spec.hparams), workdir=spec.run_dir)
  workload = registry.make_workload(spec.workload, spec.size, spec.config_overrides)
  config = workload.config.to_dict() if hasattr(workload, "config") else None  # type: ignore[attr-defined]
  record = tuning.trial_settings(spec.run_settings(), spec.budget_sec)
  outcome = tuning.run_or_skip_trial(request, plan, config, record, spec.budget_sec,
                                     frozenset(spec.extra_known_hparams), report)
  return TrialResult(spec=spec, status=outcome.status,
                     time_to_target_sec=outcome.time_to_target_sec, skipped=outcome.skipped)
