"""Tuning studies under AlgoPerf's rulesets; every trial is an ordinary run record.

Layout: `WORKDIR/study_<i>/trial_<j>/` (metrics.jsonl, result.json). External tuning draws
each study's trials from a scrambled Halton sequence over the search space (seeded by the
study), so any trial can be run alone (`--study=i --trial=j`) by a cluster scheduler and get
the same hyperparameters. Self-tuning runs the submission's own defaults, one trial per study,
with the budget multiplied by `self_tuning_budget_factor` (1.5 in AlgoPerf's current rules).
A finished trial is skipped when re-run; an unfinished one (killed, preempted) resumes from its
last good checkpoint, or starts afresh when it has none; records of another run are refused.
Each trial folder keeps `trial.json`, the settings that change a trial's result (step cap,
eval cadence, budget), so a finished trial is reused only under the same ones.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax

from algoperf_lab import loader, registry, runner
from algoperf_lab.harness.clock import resolve_clock
from algoperf_lab.harness import records
from algoperf_lab.harness.records import RunStatus
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.harness.preemption import sigterm_requests_preemption
from algoperf_lab.harness.workdir_lock import check_writable_dir
from algoperf_lab.scoring import records as scoring_records
from algoperf_lab.sweeps.engine import run_sweep
from algoperf_lab.sweeps.executors import Executor, LocalExecutor
from algoperf_lab.sweeps.spec import TrialSpec, portable_path, settings_dict
from algoperf_lab.tuning import halton, search_space

SELF_TUNING_BUDGET_FACTOR = 1.5
SEED_STRIDE_PER_STUDY = 1000
TRIAL_FILE = "trial.json"
MAX_SEED = 2**32


class Ruleset(enum.Enum):
  EXTERNAL = "external"
  SELF = "self"
  NONE = "none"  # a single run outside any tuning ruleset (the study scripts' fixed runs)


class TuningError(ValueError):
  """A tuning request is inconsistent; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class TuneRequest:
  workload: str
  size: str
  submission: str
  workdir: Path
  ruleset: Ruleset
  num_studies: int = 1
  num_trials: int = 1
  search_space: str | None = None
  seed: int = 0
  only_study: int | None = None
  only_trial: int | None = None
  config_overrides: tuple[str, ...] = ()
  settings: RunSettings = RunSettings()
  self_tuning_budget_factor: float = SELF_TUNING_BUDGET_FACTOR


@dataclasses.dataclass(frozen=True)
class TrialPlan:
  study: int
  trial: int
  seed: int
  hparams: Mapping[str, Any]
  workdir: Path


@dataclasses.dataclass(frozen=True)
class TrialOutcome:
  plan: TrialPlan
  status: str
  time_to_target_sec: float | None
  skipped: bool


def trial_dir(workdir: Path, study: int, trial: int) -> Path:
  return workdir / f"study_{study}" / f"trial_{trial}"


def trial_seed(base_seed: int, study: int, trial: int) -> int:
  """Each trial's run seed: distinct across studies and trials, fixed by the base seed."""
  return base_seed + SEED_STRIDE_PER_STUDY * study + trial


def recorded_status(run_dir: Path) -> str | None:
  """The status in run_dir/result.json, 'unreadable' if it is damaged, None if absent."""
  path = run_dir / records.RESULT_FILE
  if not path.is_file():
    return None
  try:
    return str(json.loads(path.read_text())["status"])
  except (json.JSONDecodeError, KeyError, TypeError, OSError):
    return "unreadable"


def trial_settings(settings: RunSettings, budget_sec: float) -> dict[str, Any]:
  """The run settings besides seed and hyperparameters that change a trial's result."""
  return {"max_steps": settings.max_steps, "eval_every_steps": settings.eval_every_steps,
          "max_runtime_sec": budget_sec, "stop_at_target": settings.stop_at_target,
          "clock": settings.clock}


def _stored_trial_settings(run_dir: Path) -> dict[str, Any] | None:
  try:
    return json.loads((run_dir / TRIAL_FILE).read_text())
  except (OSError, json.JSONDecodeError):
    return None


def _check_same_trial(plan: TrialPlan, result: Mapping[str, Any],
                      workload_config: Mapping[str, Any] | None,
                      settings: Mapping[str, Any] | None = None) -> None:
  """A finished record is reused only if it ran this very trial; otherwise nothing is mixed."""
  differences = []
  if settings is not None:
    stored = _stored_trial_settings(plan.workdir)
    changed = (sorted(settings) if stored is None
               else [k for k in settings if stored.get(k) != settings[k]])
    differences.extend(f"{name} (was {stored.get(name) if stored else 'unrecorded'}, now "
                       f"{settings[name]})" for name in changed)
  if json.loads(json.dumps(dict(plan.hparams))) != result.get("hparams"):
    differences.append("hyperparameters")
  if workload_config is not None and json.loads(json.dumps(workload_config)) != result.get("workload_config"):
    differences.append("workload config")
  if result.get("seed") != plan.seed:
    differences.append("seed")
  if differences:
    raise TuningError(
        f"{plan.workdir} holds a finished run with different {', '.join(differences)} than "
        f"study {plan.study} trial {plan.trial} of this request; use another --workdir (or "
        "delete that folder) so that results are never mixed.")


def _validate(request: TuneRequest) -> None:
  if request.num_studies < 1 or request.num_trials < 1:
    raise TuningError("--studies and --trials must be at least 1.")
  if request.ruleset is Ruleset.EXTERNAL and request.search_space is None:
    raise TuningError("external tuning needs --search_space=FILE.json (AlgoPerf's format); "
                      "use --ruleset=self to run the submission's own defaults.")
  if request.ruleset is Ruleset.SELF and request.search_space is not None:
    raise TuningError("self-tuning takes no --search_space: the submission tunes itself.")
  if request.ruleset is Ruleset.SELF and request.num_trials != 1:
    raise TuningError("self-tuning runs one trial per study; drop --trials.")
  for name, value, limit in (("--study", request.only_study, request.num_studies),
                             ("--trial", request.only_trial, request.num_trials)):
    if value is not None and not 0 <= value < limit:
      raise TuningError(f"{name}={value} is outside 0..{limit - 1}.")
  last_seed = trial_seed(request.seed, request.num_studies - 1, request.num_trials - 1)
  if request.seed < 0 or last_seed >= MAX_SEED:
    raise TuningError(f"trial seeds run from --seed={request.seed} to {last_seed}; they must lie "
                      "in [0, 2**32): lower --seed.")


def plan_trials(request: TuneRequest, submission: loader.Submission) -> list[TrialPlan]:
  """Every (study, trial) of the request with its hyperparameters and seed."""
  _validate(request)
  defaults = dict(submission.default_hparams or {})
  plans = []
  for study in range(request.num_studies):
    if request.ruleset is Ruleset.EXTERNAL:
      space = search_space.load_search_space(request.search_space)  # type: ignore[arg-type]
      known = (set(defaults) | submission.optional_hparams
               if submission.default_hparams is not None else None)
      search_space.check_known_hparams(space, known, str(request.search_space))
      drawn = halton.sample_trials(space, request.num_trials, seed=request.seed + study,
                                   float_names=search_space.float_hparams(defaults))
    else:
      drawn = [{}]
    for trial, values in enumerate(drawn):
      plans.append(TrialPlan(study=study, trial=trial, seed=trial_seed(request.seed, study, trial),
                             hparams={**defaults, **values},
                             workdir=trial_dir(request.workdir, study, trial)))
  return [p for p in plans
          if (request.only_study is None or p.study == request.only_study)
          and (request.only_trial is None or p.trial == request.only_trial)]


def run_tuning(request: TuneRequest, report: Callable[[str], None] = print,
               executor: Executor | None = None, rerun_hint: str = "") -> list[TrialOutcome]:
  """Runs (or skips, when finished) every planned trial through the sweep engine (in this
  process unless an executor is given); a diverged trial does not stop it."""
  plans, specs = tuning_specs(request)
  outcome = run_sweep(specs, executor or LocalExecutor(report), report=report,
                      rerun_hint=rerun_hint)
  by_label = {r.spec.label: r for r in outcome.results}
  outcomes = []
  for plan in plans:
    result = by_label.get(trial_label(plan))
    if result is None:
      continue
    outcomes.append(TrialOutcome(plan, result.status, result.time_to_target_sec, result.skipped))
    if result.status == RunStatus.PREEMPTED.value:
      report(f"study {plan.study} trial {plan.trial} was preempted; the study stops here. "
             "Run the same command again to resume it from this trial's checkpoint.")
  if outcome.stopped and not any(o.status == RunStatus.PREEMPTED.value for o in outcomes):
    report("stopped between trials (SIGTERM, or SIGUSR1 once the running trials had "
           "finished); run the same command again to go on.")
  return outcomes


def tuning_specs(request: TuneRequest) -> tuple[list[TrialPlan], list[TrialSpec]]:
  """The planned trials of a request and their sweep specs (budget and clock resolved)."""
  check_writable_dir(Path(request.workdir), "--workdir")
  submission = loader.load_submission(request.submission)
  plans = plan_trials(request, submission)
  workload = registry.make_workload(request.workload, request.size, request.config_overrides)
  clock = resolve_clock(request.settings.clock, jax.devices()[0].platform,
                        workload.max_allowed_cpu_sec is not None,
                        request.settings.max_runtime_sec is not None)
  workload_budget = (workload.max_allowed_cpu_sec if clock == "process_cpu"
                     else workload.max_allowed_runtime_sec)
  budget = request.settings.max_runtime_sec or workload_budget
  if request.ruleset is Ruleset.SELF:
    budget *= request.self_tuning_budget_factor
  request = dataclasses.replace(request, settings=dataclasses.replace(request.settings,
                                                                      clock=clock))
  extra_known: frozenset[str] = frozenset()
  if request.search_space is not None:
    extra_known = frozenset(search_space.load_search_space(request.search_space).names)
  return plans, [trial_spec(request, plan, budget, extra_known) for plan in plans]


def trial_label(plan: TrialPlan) -> str:
  return f"study {plan.study} trial {plan.trial}"


def trial_spec(request: TuneRequest, plan: TrialPlan, budget: float,
               extra_known: frozenset[str]) -> TrialSpec:
  """The sweep engine's spec of one planned trial (run settings with its seed and budget)."""
  settings = dataclasses.replace(request.settings, seed=plan.seed, max_runtime_sec=budget)
  return TrialSpec(workload=request.workload, size=request.size,
                   submission=portable_path(request.submission),
                   hparams=json.loads(json.dumps(dict(plan.hparams))), seed=plan.seed,
                   ruleset=request.ruleset.value, study=plan.study, trial=plan.trial,
                   workdir=str(plan.workdir), config_overrides=tuple(request.config_overrides),
                   settings=settings_dict(settings), extra_known_hparams=tuple(sorted(extra_known)),
                   label=trial_label(plan), budget_sec=budget)


def run_or_skip_trial(request: TuneRequest, plan: TrialPlan, workload_config: Any,
                       settings_record: Mapping[str, Any], budget: float,
                       extra_known: frozenset[str],
                       report: Callable[[str], None]) -> TrialOutcome:
  """Skips a finished trial (checking it is this trial), else runs or resumes it."""
  label = trial_label(plan)
  status = recorded_status(plan.workdir)
  if status in runner.FINISHED_STATUSES:
    result = json.loads((plan.workdir / records.RESULT_FILE).read_text())
    _check_same_trial(plan, result, workload_config, settings_record)
    _check_record_against_history(plan.workdir)
    report(f"{label}: already finished ({status}), skipped")
    return TrialOutcome(plan, status, result.get("time_to_target_sec"), True)
  settings = dataclasses.replace(request.settings, seed=plan.seed, max_runtime_sec=budget)
  result = runner.run(runner.RunRequest(
      workload=request.workload, size=request.size, submission=request.submission,
      workdir=plan.workdir, hparams_overrides=plan.hparams,
      config_overrides=request.config_overrides, settings=settings, overwrite=False,
      ruleset=request.ruleset.value, study=plan.study, trial=plan.trial,
      extra_known_hparams=extra_known))
  if result.status is not RunStatus.PREEMPTED or result.steps:
    _record_trial_settings(plan.workdir, settings_record)
  resumed = f" (resumed from step {result.resumed_from_step})" if result.resumed_from_step else ""
  report(f"{label}: {result.status.value}{resumed}"
         + (f" in {result.time_to_target_sec:.1f} {result.time_unit}"
            if result.time_to_target_sec else ""))
  return TrialOutcome(plan, result.status.value, result.time_to_target_sec, False)


def _check_record_against_history(run_dir: Path) -> None:
  """A finished trial whose result.json its metrics.jsonl contradicts is refused by path."""
  try:
    scoring_records.refuse_contradicted_record(run_dir / records.RESULT_FILE)
  except scoring_records.RecordError as error:
    raise TuningError(f"{run_dir}: {error}") from error


def _record_trial_settings(run_dir: Path, settings: Mapping[str, Any]) -> None:
  """Writes trial.json once the run has ended (a rerun of an unfinished trial with other
  settings is refused by the resume fingerprint, of a finished one by `_check_same_trial`)."""
  if jax.process_index() == 0:
    records.write_json_atomically(run_dir / TRIAL_FILE, dict(settings))
