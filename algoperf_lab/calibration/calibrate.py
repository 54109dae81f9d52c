"""`run_calibration`: plan every (method, candidate, workload, seed) run, run what is missing,
and, once every run is finished, score them and write the report (see the package docstring)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from algoperf_lab import loader, registry
from algoperf_lab.calibration import candidates as candidates_lib
from algoperf_lab.calibration import report as report_lib
from algoperf_lab.calibration.results import CalibrationResult, score_calibration
from algoperf_lab.calibration.runs import RunFilter, RunPlan, execute, is_finished
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.harness.workdir_lock import check_writable_dir

REPO_ROOT = candidates_lib.REPO_ROOT
LR_FREE_DIR = REPO_ROOT / "submissions" / "lr_free"
REFERENCE = str(REPO_ROOT / "submissions" / "baselines" / "nadamw_optax.py")
SIZE = "tiny"


def default_submissions() -> tuple[str, ...]:
  return tuple(str(p) for p in sorted(LR_FREE_DIR.glob("*.py")) if not p.name.startswith("_"))


def default_workloads(include_variants: bool) -> tuple[str, ...]:
  """The tiny base workloads (gnn, lm, lm_moe, vit), plus their held-out variants if asked."""
  return tuple(name for name, cls in registry.workload_classes().items()
               if SIZE in cls.sizes  # type: ignore[attr-defined]
               and (include_variants or getattr(cls, "base_workload", None) is None))


@dataclasses.dataclass(frozen=True)
class CalibrationRequest:
  workdir: Path
  submissions: tuple[str, ...] = ()  # () : every submission in submissions/lr_free/
  reference: str = REFERENCE
  workloads: tuple[str, ...] = ()  # (): default_workloads(include_variants)
  include_variants: bool = False
  num_candidates: int = 4
  num_seeds: int = 2
  seed: int = 0
  spaces_dir: Path = candidates_lib.DEFAULT_SPACES_DIR
  config_overrides: tuple[str, ...] = ()
  settings: RunSettings = RunSettings()
  run_filter: RunFilter = RunFilter()


def plan_runs(request: CalibrationRequest) -> list[RunPlan]:
  files = list(dict.fromkeys([*(request.submissions or default_submissions()),
                              request.reference]))
  workloads = request.workloads or default_workloads(request.include_variants)
  if request.num_seeds < 1:
    raise candidates_lib.CalibrationError("--seeds must be at least 1.")
  plans = []
  for path in files:
    submission = loader.load_submission(path)
    method = Path(path).stem
    for candidate in candidates_lib.make_candidates(
        method, submission.default_hparams or {}, request.num_candidates, request.spaces_dir):
      plans += [RunPlan(candidate, path, w, s) for w in workloads
                for s in range(request.num_seeds)]
  return plans


def run_calibration(request: CalibrationRequest, report: Callable[[str], None] = print,
                    executor: Any = None, rerun_hint: str = "") -> CalibrationResult | None:
  """Runs the missing runs; scores and writes the report once all are finished (else None)."""
  check_writable_dir(Path(request.workdir), "--workdir")
  plans = plan_runs(request)
  outcome = execute(plans, request.workdir, size=SIZE, base_seed=request.seed,
                    config_overrides=request.config_overrides, settings=request.settings,
                    run_filter=request.run_filter, report=report, executor=executor,
                    rerun_hint=rerun_hint)
  finished = sum(is_finished(request.workdir, p) for p in plans)
  if outcome.preempted:
    report(f"preempted (SIGTERM): {finished}/{len(plans)} runs finished, the current one saved; "
           "run the same command again to resume.")
    return None
  if finished < len(plans):
    filtered = request.run_filter != RunFilter()
    report(f"{finished}/{len(plans)} runs finished (candidates × workloads × seeds); run the "
           + ("same command without --method/--candidate/--workload/--seed_index"
              if filtered else "same command again") + " to finish and score.")
    return None
  result = score_calibration(plans, request.workdir, Path(request.reference).stem)
  path = report_lib.write_report(result, request.workdir / "report")
  report(f"{len(plans)} runs scored; report: {path}")
  return result
