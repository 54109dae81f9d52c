"""`algoperf-lab run`: one submission on one workload, from names and files to a run record."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax

from algoperf_lab import hyperparameters, loader, registry
from algoperf_lab.harness import records
from algoperf_lab.harness.workdir_lock import hold_workdir_lock
from algoperf_lab.harness.resume import CHECKPOINT_DIR
from algoperf_lab.harness.loop import RunIdentity, RunResult, RunSettings, train_and_evaluate

FINISHED_STATUSES = ("reached", "missed", "diverged", "capped")


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
  # Hyperparameter names known besides the submission's own (a tuning study's search space).
  extra_known_hparams: frozenset[str] = frozenset()
  algoperf_api: str = "auto"  # AlgoPerf form: "jit", "pmap" (v0.5) or "auto" (detected)


class DiskFullError(RuntimeError):
  """The disk holding the workdir (or the data cache) is full."""


def raise_if_disk_full(error: BaseException, workdir: Path) -> None:
  """Raises DiskFullError (one clear line) when `error` was caused by a full disk (ENOSPC)."""
  seen: set[int] = set()
  pending: list[BaseException | None] = [error]
  while pending:
    current = pending.pop()
    if current is None or id(current) in seen:
      continue
    seen.add(id(current))
    is_os_error = isinstance(current, OSError) and current.errno == errno.ENOSPC
    if is_os_error or os.strerror(errno.ENOSPC) in str(current):  # tensorstore: message only
      filename = getattr(current, "filename", None) if is_os_error else None
      where = f" ({filename})" if filename else ""
      raise DiskFullError(f"no space left on the device{where}; free space on "
                          f"the disk holding {workdir} (or choose another --workdir) and run the "
                          "same command again: an unfinished run resumes from its last good "
                          "checkpoint.") from error
    pending.extend([current.__cause__, current.__context__,
                    *getattr(current, "exceptions", ())])


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
  submission = loader.load_submission(request.submission, request.algoperf_api)
  overrides = hyperparameters.load_hparams_file(request.hparams_file) if request.hparams_file else {}
  overrides = {**overrides, **(request.hparams_overrides or {})}
  known = hyperparameters.known_hparam_names(submission, request.extra_known_hparams)
  hparams = hyperparameters.make_hyperparameters(submission.default_hparams, overrides,
                                                 request.submission, known=known)
  identity = RunIdentity(
      workload=request.workload, size=request.size, submission=submission.name,
      submission_path=request.submission, submission_form=submission.form.value,
      hparams=hparams._asdict(), seed=request.settings.seed, ruleset=request.ruleset,
      study=request.study, trial=request.trial)
  with _workdir_lock(request.workdir):
    check_workdir(request.workdir, request.overwrite)
    return train_and_evaluate(workload, submission, hparams, request.settings, identity,
                              request.workdir)


def _workdir_lock(workdir: Path) -> contextlib.AbstractContextManager[Any]:
  """The workdir's lock, taken by the primary process (the others share its workdir)."""
  return hold_workdir_lock(workdir) if jax.process_index() == 0 else contextlib.nullcontext()
