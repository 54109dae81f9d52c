"""`algoperf-lab run`: one submission on one workload, from names and files to a run record."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from algoperf_lab import hyperparameters, loader, registry
from algoperf_lab.harness import records
from algoperf_lab.harness.resume import CHECKPOINT_DIR
from algoperf_lab.harness.loop import RunIdentity, RunResult, RunSettings, train_and_evaluate

FINISHED_STATUSES = ("reached", "missed", "diverged")


@dataclasses.dataclass(frozen=True)
class RunRequest:
  workload: str
  size: str
  submission: str
  workdir: Path
  hparams_file: str | None = None
  hparams_overrides: Mapping[str, Any] | None = None  # applied after hparams_file
  config_overrides: tuple[str, ...] = ()
  settings: RunSettings = RunSettings()
  overwrite: bool = False
  ruleset: str = "none"
  study: int | None = None
  trial: int | None = None


class WorkdirInUseError(FileExistsError):
  """The workdir already holds a finished run; nothing is overwritten without --overwrite."""


def check_workdir(workdir: Path, overwrite: bool) -> None:
  """Refuses a finished run (unless overwrite); with overwrite, clears the old run's files.

  An unfinished run (killed, preempted, failed) is left in place: the harness resumes it from
  its last good checkpoint.
  """
  result_path = workdir / records.RESULT_FILE
  if overwrite:
    shutil.rmtree(workdir / CHECKPOINT_DIR, ignore_errors=True)
    (workdir / records.METRICS_FILE).unlink(missing_ok=True)
    return
  if not result_path.is_file():
    return
  try:
    status = json.loads(result_path.read_text()).get("status")
  except (json.JSONDecodeError, OSError, AttributeError):
    status = "unreadable"
  if status in FINISHED_STATUSES:
    raise WorkdirInUseError(f"{workdir} already holds a finished run (status {status!r}); "
                            "choose another --workdir or pass --overwrite to replace it.")


def run(request: RunRequest) -> RunResult:
  """Loads the workload and submission, checks everything, then trains and records."""
  workload = registry.make_workload(request.workload, request.size, request.config_overrides)
  submission = loader.load_submission(request.submission)
  overrides = hyperparameters.load_hparams_file(request.hparams_file) if request.hparams_file else {}
  overrides = {**overrides, **(request.hparams_overrides or {})}
  hparams = hyperparameters.make_hyperparameters(submission.default_hparams, overrides,
                                                 request.submission)
  check_workdir(request.workdir, request.overwrite)
  identity = RunIdentity(
      workload=request.workload, size=request.size, submission=submission.name,
      submission_path=request.submission, submission_form=submission.form.value,
      hparams=hparams._asdict(), seed=request.settings.seed, ruleset=request.ruleset,
      study=request.study, trial=request.trial)
  return train_and_evaluate(workload, submission, hparams, request.settings, identity,
                            request.workdir)
