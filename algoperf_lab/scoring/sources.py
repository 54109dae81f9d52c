"""`algoperf-lab score`: find what the folders hold and score each kind under its own rules.

Lab run records (result.json) are scored with the lab's rules (exact integral, bootstrap CIs);
AlgoPerf experiment trees (eval_measurements.csv) with AlgoPerf's rules against its frozen
targets. When a folder set holds both, each gets its own report (`<out>/lab_records`,
`<out>/algoperf_logs`) unless `algoperf_rules` asks for one table: then the lab records are
converted to AlgoPerf trials and scored with the logs under AlgoPerf's rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from algoperf_lab.scoring.algoperf_logs import TrialDir, find_trial_dirs, load_trials
from algoperf_lab.scoring.algoperf_report import AlgoPerfReport, score_algoperf_trials
from algoperf_lab.scoring.algoperf_targets import (
    AlgoPerfTargets, bundled_targets, load_targets, merge_targets)
from algoperf_lab.scoring.export import TARGETS_FILE, record_trials
from algoperf_lab.scoring.profiles import DEFAULT_TAU_MAX
from algoperf_lab.scoring.records import ScoringError, find_result_files, load_records
from algoperf_lab.scoring.report import ScoreReport, check_score_options, score_directories
from algoperf_lab.harness.workdir_lock import hold_output_dir

LAB_SUBDIR = "lab_records"
ALGOPERF_SUBDIR = "algoperf_logs"


@dataclass(frozen=True)
class ScoreRequest:
  """Everything `algoperf-lab score` was asked to do."""
  paths: tuple[Path, ...]
  out_dir: Path
  tau_max: float = DEFAULT_TAU_MAX
  baseline: str | None = None
  allow_mixed_hardware: bool = False
  bootstrap_samples: int = 1000
  seed: int = 0
  allow_incomplete: bool = False
  group_by_config: bool = False
  algoperf_version: str | None = None
  algoperf_targets: Path | None = None
  ruleset: str = "external"
  algoperf_rules: bool = False  # score lab records under AlgoPerf's rules, with any logs
  progress: bool = True
  mtl_reference: str | None = None  # Δm% of lab records against this submission
  clock: str = "time"  # lab records: score seconds ("time") or steps ("steps") to target


@dataclass(frozen=True)
class ScoreOutcome:
  """The lab-rules report and the AlgoPerf-rules report (either may be absent)."""
  lab: ScoreReport | None
  algoperf: AlgoPerfReport | None


def _targets(request: ScoreRequest, num_trial_dirs: int) -> AlgoPerfTargets:
  if request.algoperf_targets is not None and request.algoperf_version is not None:
    raise ScoringError("give either --algoperf_version or --algoperf_targets, not both")
  if request.algoperf_targets is not None:
    return load_targets(request.algoperf_targets)
  if request.algoperf_version is not None:
    return bundled_targets(request.algoperf_version)
  found = [p / TARGETS_FILE for p in request.paths if (Path(p) / TARGETS_FILE).is_file()]
  hint = f" (e.g. --algoperf_targets={found[0]}, written by export-algoperf)" if found else ""
  raise ScoringError(f"found {num_trial_dirs} AlgoPerf trial folder(s) under "
                     f"{', '.join(map(str, request.paths))}; pass --algoperf_version=0.5|0.6 "
                     f"or --algoperf_targets=FILE.json{hint}")


def _score_one_table(request: ScoreRequest, locations: list[TrialDir],
                     targets: AlgoPerfTargets | None
                     ) -> AlgoPerfReport:
  """Lab records (converted) and AlgoPerf logs together under AlgoPerf's rules."""
  records, skipped = load_records(request.paths)
  incomplete = [k for k in skipped if k.incomplete]
  if incomplete and not request.allow_incomplete:
    raise ScoringError(f"{len(incomplete)} lab record(s) are corrupt, preempted or still "
                       f"running (e.g. {incomplete[0].path}: {incomplete[0].reason}); finish or "
                       "remove them, or pass --allow_incomplete")
  lab_trials, lab_targets, warnings = record_trials(records) if records else ([], None, [])
  merged = merge_targets(targets, lab_targets)
  log_trials, log_skipped = load_trials(locations, merged, progress=request.progress)
  return score_algoperf_trials(log_trials + lab_trials, skipped + log_skipped, request.out_dir,
                               targets=merged, ruleset=request.ruleset, tau_max=request.tau_max,
                               warnings=warnings)


def score(request: ScoreRequest) -> ScoreOutcome:
  """Score everything under request.paths; see the module docstring for where reports go.

  `--out` is locked while the scores are written: a second `score` writing the same folder is
  refused (one line) instead of racing it; a refused or failed score leaves no new folder."""
  with hold_output_dir(Path(request.out_dir), "--out"):
    return _score_unlocked(request)


def _score_unlocked(request: ScoreRequest) -> ScoreOutcome:
  missing = [str(p) for p in request.paths if not Path(p).exists()]
  if missing:
    raise ScoringError(f"no such file or directory: {', '.join(missing)}")
  check_score_options(request.tau_max, request.bootstrap_samples, request.out_dir)
  if request.ruleset not in ("external", "self"):
    raise ScoringError(f"--ruleset must be external or self, got {request.ruleset!r}")
  locations = find_trial_dirs(request.paths)
  has_lab = bool(find_result_files(request.paths))
  if not locations and not has_lab:
    raise ScoringError(f"nothing to score under {', '.join(map(str, request.paths))}: no "
                       "result.json (lab run records) and no AlgoPerf trial folders "
                       "(<submission>/study_<k>/<workload>_<jax|pytorch>/trial_<j>/)")
  targets = _targets(request, len(locations)) if locations else None
  if request.algoperf_rules:
    return ScoreOutcome(lab=None, algoperf=_score_one_table(request, locations, targets))
  both = bool(locations) and has_lab
  lab = algoperf = None
  if has_lab:
    lab = score_directories(
        list(request.paths), request.out_dir / LAB_SUBDIR if both else request.out_dir,
        tau_max=request.tau_max, baseline=request.baseline,
        allow_mixed_hardware=request.allow_mixed_hardware,
        bootstrap_samples=request.bootstrap_samples, seed=request.seed,
        allow_incomplete=request.allow_incomplete, group_by_config=request.group_by_config,
        mtl_reference=request.mtl_reference, clock=request.clock)
  if locations:
    assert targets is not None
    trials, skipped = load_trials(locations, targets, progress=request.progress)
    algoperf = score_algoperf_trials(
        trials, skipped, request.out_dir / ALGOPERF_SUBDIR if both else request.out_dir,
        targets=targets, ruleset=request.ruleset, tau_max=request.tau_max)
  return ScoreOutcome(lab=lab, algoperf=algoperf)
