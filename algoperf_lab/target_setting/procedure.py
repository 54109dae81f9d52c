"""`algoperf-lab set-targets`: targets, budgets and step hints set AlgoPerf's way, as records.

For each base workload of the study config (`configs/studies/target_setting_*.py`):
  1. tune every baseline (external ruleset, its search space, `trials` trials), each trial a
     fixed-horizon run of `horizon` steps that does not stop at a target;
  2. re-run each baseline's best trial (best validation value reached) over `seeds` seeds;
  3. the baseline with the best median is the target-setting algorithm; its seeds give the
     targets and budgets (`rules.workload_targets`), and `step_hint` is the horizon.
Each held-out variant gets the base's target-setting algorithm: with `tune_variants`, tuned
again on the variant (AlgoPerf tuned its variants' target-setting runs on each variant:
`algorithms/target_setting_algorithms/<variant>/` in mlcommons/algorithmic-efficiency), and its
best configuration re-run over the same seeds; without it, or for a variant the config names in
`untuned_variants` (too costly to tune), the base's configuration is re-run as it is.

Layout: OUT/<workload>/tuning/<baseline>/study_0/trial_<j>/ and
OUT/<workload>/seeds/<baseline>/study_<i>/trial_0/ (ordinary run records, no checkpoints);
OUT/targets.json and OUT/report.md are rewritten from the records after every workload, so
a killed command loses at most the run in progress, and a re-run runs only what is missing.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax

from configs import tiny_targets

from algoperf_lab import registry
from algoperf_lab.config_files import read_get_config
from algoperf_lab.atomic_files import write_text_atomically
from algoperf_lab.harness.clock import resolve_clock
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.harness.records import RESULT_FILE, RunStatus
from algoperf_lab.harness.workdir_lock import check_writable_dir
from algoperf_lab.sweeps.engine import run_sweep
from algoperf_lab.sweeps.executors import Executor, LocalExecutor
from algoperf_lab.sweeps.spec import TrialSpec
from algoperf_lab.target_setting import rules
from algoperf_lab.tuning import study as tuning

TARGETS_FILE = "targets.json"
REPORT_FILE = "report.md"
RERUN_SEED_BASE = 10_000  # re-run seeds never coincide with a tuning trial's seed


class PlanError(ValueError):
  """The study config is inconsistent; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class BaseWorkloadPlan:
  name: str
  horizon: int
  variants: tuple[str, ...] = ()
  evals_per_run: int | None = None  # None: the study's
  untuned_variants: tuple[str, ...] = ()  # re-run the base's configuration even if tune_variants


@dataclasses.dataclass(frozen=True)
class TargetSettingPlan:
  size: str
  baselines: Mapping[str, str]  # name -> submission file
  search_spaces: Mapping[str, str]  # name -> search space file
  trials: int
  seeds: int
  evals_per_run: int
  workloads: tuple[BaseWorkloadPlan, ...]
  tuning_seed: int = 0
  # Re-runs of the target-setter's first seeds made with `--timing` on a quiet machine; when
  # present, the budgets come from them (the other runs may share the CPU).
  timing_runs: int = 0
  # Tune the target-setting algorithm again on each variant (AlgoPerf's practice).
  tune_variants: bool = False

  def is_tuned_variant(self, workload: str) -> bool:
    base = self.base_of(workload)
    return (self.tune_variants and workload != base.name
            and workload not in base.untuned_variants)

  def base_of(self, workload: str) -> BaseWorkloadPlan:
    for base in self.workloads:
      if workload == base.name or workload in base.variants:
        return base
    raise PlanError(f"{workload} is not in the study config.")

  def horizon_of(self, workload: str) -> int:
    return self.base_of(workload).horizon

  def evals_of(self, workload: str) -> int:
    return self.base_of(workload).evals_per_run or self.evals_per_run


def plan_from_config(config: Mapping[str, Any]) -> TargetSettingPlan:
  """A TargetSettingPlan from a study config's dict, checked."""
  baselines = dict(config["baselines"])
  spaces = dict(config["search_spaces"])
  missing = sorted(set(baselines) - set(spaces))
  if missing:
    raise PlanError(f"baselines {missing} have no search space in the study config.")
  for path in [*baselines.values(), *spaces.values()]:
    if not Path(path).is_file():
      raise PlanError(f"{path} (named by the study config) does not exist; run from the "
                      "repository root or fix the path.")
  workloads = tuple(BaseWorkloadPlan(name, int(spec["horizon"]), tuple(spec.get("variants", ())),
                                     spec.get("evals_per_run"),
                                     tuple(spec.get("untuned_variants", ())))
                    for name, spec in dict(config["workloads"]).items())
  plan = TargetSettingPlan(size=str(config["size"]), baselines=baselines, search_spaces=spaces,
                           trials=int(config["trials"]), seeds=int(config["seeds"]),
                           evals_per_run=int(config["evals_per_run"]), workloads=workloads,
                           tuning_seed=int(config.get("tuning_seed", 0)),
                           timing_runs=int(config.get("timing_runs", 0)),
                           tune_variants=bool(config.get("tune_variants", False)))
  if plan.trials < 1 or plan.seeds < 1 or plan.evals_per_run < 1:
    raise PlanError("trials, seeds and evals_per_run must be at least 1.")
  if not 0 <= plan.timing_runs <= plan.seeds:
    raise PlanError(f"timing_runs must be between 0 and seeds ({plan.seeds}).")
  for base in workloads:
    strays = sorted(set(base.untuned_variants) - set(base.variants))
    if strays:
      raise PlanError(f"{base.name}: untuned_variants {strays} are not among its variants.")
    if base.horizon < plan.evals_of(base.name) or plan.evals_of(base.name) < 1:
      raise PlanError(f"{base.name}: horizon {base.horizon} is shorter than evals_per_run.")
  return plan


def load_study_config(path: str | Path) -> dict[str, Any]:
  """The `get_config()` of a study config file, as a plain dict."""
  return read_get_config(path, PlanError, "--study", "configs/studies/target_setting_tiny.py")


def _settings(plan: TargetSettingPlan, workload: str, progress: bool) -> RunSettings:
  horizon = plan.horizon_of(workload)
  made = registry.make_workload(workload, plan.size, _overrides(plan, workload))
  clock = resolve_clock("auto", jax.devices()[0].platform, made.max_allowed_cpu_sec is not None)
  current = (made.max_allowed_cpu_sec if clock == "process_cpu" else made.max_allowed_runtime_sec)
  return RunSettings(eval_every_steps=max(1, horizon // plan.evals_of(workload)), max_steps=horizon,
                     # a fixed horizon: the runtime cap only guards against a stuck run
                     max_runtime_sec=100.0 * float(current), stop_at_target=False,
                     checkpoint_every_sec=None, progress=progress, clock=clock)


def _overrides(plan: TargetSettingPlan, workload: str) -> tuple[str, ...]:
  return (f"--config.targets.step_hint={plan.horizon_of(workload)}",)


def _history(run_dir: Path) -> list[dict[str, Any]]:
  path = run_dir / "metrics.jsonl"
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def seed_run(run_dir: Path, metric: str, lower: bool) -> rules.SeedRun | None:
  """A finished run's SeedRun (None while it is unfinished or preempted, or if it diverged)."""
  result = json.loads((run_dir / RESULT_FILE).read_text())
  if result.get("status") not in ("reached", "missed", "diverged", "capped"):
    return None
  return rules.seed_run_from_history(int(result["seed"]), _history(run_dir), metric, lower,
                                     result)


@dataclasses.dataclass(frozen=True)
class _Workload:
  name: str
  metric: str
  lower: bool


def _describe(plan: TargetSettingPlan, name: str) -> _Workload:
  made = registry.make_workload(name, plan.size, _overrides(plan, name))
  return _Workload(name, made.target_metric_name, made.target_direction.value == "lower")


class _Runner:
  """Builds each phase's trial specs and runs them as one sweep; stops on preemption."""

  def __init__(self, plan: TargetSettingPlan, out: Path, progress: bool,
               report: Callable[[str], None], executor: Executor | None = None,
               rerun_hint: str = ""):
    self.plan, self.out, self.progress, self.report = plan, out, progress, report
    self.executor, self.rerun_hint = executor, rerun_hint
    self.preempted = False
    self.refused: list[str] = []  # variants whose seeds could not run, and why

  def tuning_specs(self, workload: str, baseline: str) -> list[TrialSpec]:
    request = tuning.TuneRequest(
        workload=workload, size=self.plan.size, submission=self.plan.baselines[baseline],
        workdir=self.out / workload / "tuning" / baseline, ruleset=tuning.Ruleset.EXTERNAL,
        num_trials=self.plan.trials, search_space=self.plan.search_spaces[baseline],
        seed=self.plan.tuning_seed, config_overrides=_overrides(self.plan, workload),
        settings=_settings(self.plan, workload, self.progress))
    _, specs = tuning.tuning_specs(request)
    return [dataclasses.replace(spec, label=f"{workload} {baseline} tuning {spec.label}")
            for spec in specs]

  def seed_specs(self, workload: str, baseline: str, hparams: Mapping[str, Any],
                 timing: bool = False) -> list[TrialSpec]:
    """The fixed configuration over plan.seeds seeds (study i is seed RERUN_SEED_BASE + 1000 i),
    or, for `timing`, over the first plan.timing_runs of them again, under timing_dir."""
    settings = _settings(self.plan, workload, self.progress)
    count = self.plan.timing_runs if timing else self.plan.seeds
    request = tuning.TuneRequest(
        workload=workload, size=self.plan.size, submission=self.plan.baselines[baseline],
        workdir=(timing_dir if timing else seeds_dir)(self.out, workload, baseline),
        ruleset=tuning.Ruleset.EXTERNAL, num_studies=count, seed=RERUN_SEED_BASE,
        config_overrides=_overrides(self.plan, workload), settings=settings)
    known = frozenset(json.loads(Path(self.plan.search_spaces[baseline]).read_text()))
    what = "timing" if timing else "seeds"
    specs = []
    for study in range(count):
      plan = tuning.TrialPlan(study=study, trial=0,
                              seed=tuning.trial_seed(RERUN_SEED_BASE, study, 0),
                              hparams=dict(hparams),
                              workdir=tuning.trial_dir(request.workdir, study, 0))
      spec = tuning.trial_spec(request, plan, float(settings.max_runtime_sec or 0.0), known)
      specs.append(dataclasses.replace(spec, label=f"{workload} {baseline} {what} {spec.label}"))
    return specs

  def sweep(self, specs: Sequence[TrialSpec], what: str) -> None:
    """One phase's trials as one sweep; a stopped sweep stops the command (resumable)."""
    if not specs or self.preempted:
      return
    self.report(f"{what} ({len(specs)} runs)")
    executor = self.executor or LocalExecutor(lambda line: self.report(f"  {line}"))
    outcome = run_sweep(specs, executor, report=self.report, rerun_hint=self.rerun_hint)
    if outcome.stopped or any(r.status == RunStatus.PREEMPTED.value for r in outcome.results):
      self.preempted = True


def seeds_dir(out: Path, workload: str, baseline: str) -> Path:
  return out / workload / "seeds" / baseline


def timing_dir(out: Path, workload: str, baseline: str) -> Path:
  return out / workload / "timing" / baseline


def best_trial(out: Path, workload: _Workload, baseline: str) -> tuple[Path, float] | None:
  """The tuning trial of `baseline` with the best validation value reached, and that value."""
  best: tuple[Path, float] | None = None
  for run_dir in sorted((out / workload.name / "tuning" / baseline).glob("study_*/trial_*")):
    if not (run_dir / RESULT_FILE).is_file():
      continue
    run = seed_run(run_dir, workload.metric, workload.lower)
    if run is None:
      continue
    if best is None or rules.is_better(run.best_validation, best[1], workload.lower):
      best = (run_dir, run.best_validation)
  return best


def seed_runs(out: Path, workload: _Workload, baseline: str,
              folder: Callable[[Path, str, str], Path] = seeds_dir) -> list[rules.SeedRun]:
  found = []
  for run_dir in sorted(folder(out, workload.name, baseline).glob("study_*/trial_0")):
    if (run_dir / RESULT_FILE).is_file():
      run = seed_run(run_dir, workload.metric, workload.lower)
      if run is not None:
        found.append(run)
  return found


def _hparams(run_dir: Path) -> dict[str, Any]:
  return dict(json.loads((run_dir / RESULT_FILE).read_text())["hparams"])


def configuration_trial(plan: TargetSettingPlan, out: Path, name: str,
                        setter: str) -> Path | None:
  """The tuning trial whose configuration `name`'s seeds re-run: the setter's best on the
  base, or, for a tuned variant, its best on the variant once its tuning has finished."""
  base = plan.base_of(name)
  if not plan.is_tuned_variant(name):
    best = best_trial(out, _describe(plan, base.name), setter)
  elif _tuning_finished(plan, out, name, setter):
    best = best_trial(out, _describe(plan, name), setter)
  else:
    return None
  return best[0] if best else None


def run_target_setting(plan: TargetSettingPlan, out: Path, only_workload: str | None = None,
                       progress: bool = True, report: Callable[[str], None] = print,
                       timing: bool = False, executor: Executor | None = None,
                       rerun_hint: str = "") -> dict[str, Any]:
  """Runs what is missing, then (re)writes OUT/targets.json and OUT/report.md."""
  names = {w.name for w in plan.workloads} | {v for w in plan.workloads for v in w.variants}
  if only_workload is not None and only_workload not in names:
    raise PlanError(f"--workload={only_workload} is not in the study config "
                    f"({', '.join(sorted(names))}).")
  check_writable_dir(out, "--out")
  if timing and plan.timing_runs == 0:
    raise PlanError("--timing needs timing_runs > 0 in the study config.")
  with tiny_targets.ignored():  # the procedure never reads its own output
    if timing:
      return _run_timing(plan, out, only_workload, progress, report, executor, rerun_hint)
    return _run_all(plan, out, only_workload, progress, report, executor, rerun_hint)


def _run_timing(plan: TargetSettingPlan, out: Path, only_workload: str | None, progress: bool,
                report: Callable[[str], None], executor: Executor | None,
                rerun_hint: str) -> dict[str, Any]:
  """Re-runs the target-setter's first seeds of every finished workload, for the budgets."""
  runner = _Runner(plan, out, progress, report, executor, rerun_hint)
  specs = []
  for base in plan.workloads:
    described = _describe(plan, base.name)
    setter = _target_setter(plan, out, described)
    if setter is None:
      report(f"{base.name}: no target-setting algorithm yet (its seeds are unfinished); "
             "run set-targets without --timing first.")
      continue
    for name in (base.name, *base.variants):
      if only_workload not in (None, name):
        continue
      trial = configuration_trial(plan, out, name, setter)
      if trial is None or len(seed_runs(out, _describe(plan, name), setter)) < plan.seeds:
        report(f"{name}: its seeds are unfinished; run set-targets without --timing first.")
        continue
      specs += runner.seed_specs(name, setter, _hparams(trial), timing=True)
  runner.sweep(specs, "timing runs (keep the machine otherwise idle)")
  return _finish(plan, out, report, preempted=runner.preempted)


def _run_all(plan: TargetSettingPlan, out: Path, only_workload: str | None, progress: bool,
             report: Callable[[str], None], executor: Executor | None,
             rerun_hint: str) -> dict[str, Any]:
  runner = _Runner(plan, out, progress, report, executor, rerun_hint)
  for base in plan.workloads:
    wanted = only_workload is None or only_workload in (base.name, *base.variants)
    if not wanted:
      continue
    described = _describe(plan, base.name)
    runner.sweep([spec for baseline in plan.baselines
                  for spec in runner.tuning_specs(base.name, baseline)],
                 f"{base.name}: tuning {', '.join(plan.baselines)}")
    if runner.preempted:
      return _finish(plan, out, report, preempted=True)
    seed_specs = []
    for baseline in plan.baselines:
      best = best_trial(out, described, baseline)
      if best is None:
        report(f"{base.name}: every {baseline} trial diverged; it sets no target.")
        continue
      seed_specs += runner.seed_specs(base.name, baseline, _hparams(best[0]))
    runner.sweep(seed_specs, f"{base.name}: each baseline's best configuration over "
                 f"{plan.seeds} seeds")
    if runner.preempted:
      return _finish(plan, out, report, preempted=True)
    setter = _target_setter(plan, out, described)
    if setter is not None:
      variants = [v for v in base.variants if only_workload in (None, v)]
      runner.sweep([spec for variant in variants if plan.is_tuned_variant(variant)
                    for spec in runner.tuning_specs(variant, setter)],
                   f"{base.name}'s variants: tuning {setter} on each")
      if runner.preempted:
        return _finish(plan, out, report, preempted=True)
      seed_specs = []
      for variant in variants:
        trial = configuration_trial(plan, out, variant, setter)
        if trial is None:
          report(f"{variant}: every {setter} trial diverged; it gets no target.")
          continue
        if (stale := _stale_message(out, variant, setter, _hparams(trial))) is not None:
          runner.refused.append(stale)  # the other variants go on; the command then fails
          continue
        seed_specs += runner.seed_specs(variant, setter, _hparams(trial))
      runner.sweep(seed_specs, f"{base.name}'s variants: {setter}'s configuration over "
                   f"{plan.seeds} seeds")
      if runner.preempted:
        return _finish(plan, out, report, preempted=True)
    _finish(plan, out, report, preempted=False)
  targets = _finish(plan, out, report, preempted=False)
  if runner.refused:
    raise PlanError(" ".join(runner.refused))
  return targets


def stale_runs(out: Path, workload: str, setter: str, hparams: Mapping[str, Any]) -> list[Path]:
  """Seed and timing runs of `workload` made with another configuration than `hparams` (e.g.
  the base's, before the variant was tuned): they must not give its targets."""
  found = []
  for folder in (seeds_dir, timing_dir):
    for path in sorted(folder(out, workload, setter).glob("study_*/trial_0/result.json")):
      if json.loads(path.read_text()).get("hparams") != dict(hparams):
        found.append(path.parent)
  return found


def _stale_message(out: Path, workload: str, setter: str,
                   hparams: Mapping[str, Any]) -> str | None:
  stale = stale_runs(out, workload, setter, hparams)
  if stale:
    folders = sorted({str(path.parent.parent) for path in stale})
    return (f"{workload}: {len(stale)} seed/timing runs were made with another configuration "
            f"than its own best {setter} trial (e.g. its base's, before it was tuned); remove "
            f"them (`git rm -r` or `rm -r` {' '.join(folders)}) and run the same command again.")
  return None


def _target_setter(plan: TargetSettingPlan, out: Path, workload: _Workload) -> str | None:
  """The baseline with the best median, once every baseline's seeds are finished (a baseline
  whose tuning trials all diverged takes no part); None while any is unfinished."""
  medians = {}
  for baseline in plan.baselines:
    runs = seed_runs(out, workload, baseline)
    if len(runs) == plan.seeds:
      medians[baseline] = rules.median_best_validation(runs)
    elif best_trial(out, workload, baseline) is not None or not _tuning_finished(
        plan, out, workload.name, baseline):
      return None
  return rules.pick_target_setter(medians, workload.lower) if medians else None


def _tuning_finished(plan: TargetSettingPlan, out: Path, workload: str, baseline: str) -> bool:
  trials = list((out / workload / "tuning" / baseline).glob("study_*/trial_*/result.json"))
  return len(trials) == plan.trials and all(
      json.loads(t.read_text()).get("status") in ("reached", "missed", "diverged", "capped")
      for t in trials)


def collect_targets(plan: TargetSettingPlan, out: Path) -> dict[str, Any]:
  """targets.json's content, recomputed from the records under OUT (nothing else)."""
  with tiny_targets.ignored():
    return _collect_targets(plan, out)


def _collect_targets(plan: TargetSettingPlan, out: Path) -> dict[str, Any]:
  entries: dict[str, Any] = {}
  for base in plan.workloads:
    described = _describe(plan, base.name)
    setter = _target_setter(plan, out, described)
    if setter is None:
      continue
    baselines = {}
    for baseline in plan.baselines:
      runs = seed_runs(out, described, baseline)
      trial = best_trial(out, described, baseline)
      baselines[baseline] = {
          "best_trial": str(trial[0].relative_to(out)) if trial else None,
          "best_trial_validation": trial[1] if trial else None,
          "seeds": len(runs),
          "median_best_validation": (rules.median_best_validation(runs) if runs else None),
          "best_validation_per_seed": [r.best_validation for r in runs]}
    for name in (base.name, *base.variants):
      workload = described if name == base.name else _describe(plan, name)
      runs = seed_runs(out, workload, setter)
      trial = configuration_trial(plan, out, name, setter)
      if len(runs) < plan.seeds or trial is None or stale_runs(out, name, setter,
                                                                _hparams(trial)):
        continue
      timed = seed_runs(out, workload, setter, timing_dir)
      timed = timed if plan.timing_runs and len(timed) == plan.timing_runs else None
      entries[name] = _entry(plan, out, base, workload, setter, str(trial.relative_to(out)), runs,
                             baselines if name == base.name else None, timed,
                             _loads(out, workload.name, setter) if timed else None)
  return {"about": ("Targets, budgets and step hints set by `algoperf-lab set-targets` "
                    "(algoperf_lab/target_setting/): AlgoPerf's rules (DOCUMENTATION.md, "
                    "'Defining Target Performance and max_runtime'; arXiv:2306.07179 Sec. 4) "
                    f"with {plan.trials} tuning trials per baseline (AlgoPerf: 200) and "
                    f"{plan.seeds} seeds (AlgoPerf: 20); " + _variants_about(plan)),
          "size": plan.size, "baselines": dict(plan.baselines), "trials": plan.trials,
          "seeds": plan.seeds, "evals_per_run": plan.evals_per_run,
          "timing_runs": plan.timing_runs,
          "budget_over_runtime": rules.BUDGET_OVER_RUNTIME,
          "resolution_fraction": rules.RESOLUTION_FRACTION, "workloads": entries}


def _variants_about(plan: TargetSettingPlan) -> str:
  untuned = sorted(v for base in plan.workloads for v in base.variants
                   if not plan.is_tuned_variant(v))
  if not plan.tune_variants:
    return "variants re-run their base's target-setting configuration instead of being tuned."
  return ("each variant's target-setting algorithm is tuned again on it (its base's), like "
          "AlgoPerf's" + (f"; {', '.join(untuned)} re-run their base's configuration instead"
                          if untuned else "") + ".")


def _timing_cores(out: Path, workload: str, setter: str) -> list[int | None]:
  """The CPU cores each timing run could use (CPU seconds depend on it; see cpu_cores.py)."""
  return sorted({json.loads(path.read_text())["hardware"].get("usable_cpu_cores")
                 for path in timing_dir(out, workload, setter).glob("study_*/trial_0/result.json")},
                key=lambda cores: (cores is None, cores or 0))


def _loads(out: Path, workload: str, setter: str) -> list[list[float]]:
  """The load averages (1, 5, 15 min) at the start and end of each timing run."""
  loads = []
  for path in sorted(timing_dir(out, workload, setter).glob("study_*/trial_0/result.json")):
    result = json.loads(path.read_text())
    loads += [list(result.get(key, {}).get("load_average") or []) for key in ("started", "ended")]
  return loads


def _entry(plan: TargetSettingPlan, out: Path, base: BaseWorkloadPlan, workload: _Workload,
           setter: str, best_trial_path: str, runs: Sequence[rules.SeedRun],
           baselines: Mapping[str, Any] | None, timed: Sequence[rules.SeedRun] | None = None,
           loads: list[list[float]] | None = None) -> dict[str, Any]:
  targets = rules.workload_targets(runs, workload.lower)
  if timed:
    budgets = rules.workload_targets(timed, workload.lower)
    targets.update({key: budgets[key] for key in
                    ("max_allowed_cpu_sec", "max_allowed_runtime_sec", "eval_period_time_sec")})
  return {"metric": workload.metric, "direction": "lower" if workload.lower else "higher",
          "base_workload": base.name, "target_setting_algorithm": setter,
          "target_setting_trial": best_trial_path,
          "validation": round(targets["validation"], 4), "test": round(targets["test"], 4),
          "max_allowed_cpu_sec": round(targets["max_allowed_cpu_sec"], 1),
          "max_allowed_runtime_sec": round(targets["max_allowed_runtime_sec"], 1),
          "eval_period_time_sec": round(targets["eval_period_time_sec"], 2),
          "step_hint": base.horizon,
          "per_seed": [dataclasses.asdict(r) for r in runs],
          "median_submission_time_sec": statistics.median(
              r.submission_time_sec for r in (timed or runs)),
          "budget_from": (f"{len(timed)} timing runs (set-targets --timing)" if timed
                          else f"the {len(runs)} seed runs"),
          **({"timing_runs": [dataclasses.asdict(r) for r in timed],
              "timing_load_averages": loads,
              "timing_cpu_cores": _timing_cores(out, workload.name, setter)} if timed else {}),
          **({"baselines": baselines} if baselines is not None else {})}


def _finish(plan: TargetSettingPlan, out: Path, report: Callable[[str], None],
            preempted: bool) -> dict[str, Any]:
  targets = collect_targets(plan, out)
  targets["written"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
  write_text_atomically(out / TARGETS_FILE, json.dumps(targets, indent=1) + "\n")
  write_text_atomically(out / REPORT_FILE, render_report(targets))
  if preempted:
    report("preempted (SIGTERM): what finished is in targets.json; run the same command again "
           "to go on.")
  return targets


def render_report(targets: Mapping[str, Any]) -> str:
  lines = ["# Targets set by `algoperf-lab set-targets`", "", str(targets["about"]), "",
           "| workload | target-setting algorithm | its configuration | validation target | "
           "test target | CPU budget (s) | wall budget (s) | step hint | eval period (s) |",
           "|---|---|---|---|---|---|---|---|---|"]
  for name, entry in targets["workloads"].items():
    lines.append(f"| {name} | {entry['target_setting_algorithm']} | "
                 f"{entry['target_setting_trial']} | {entry['validation']} | "
                 f"{entry['test']} | {entry['max_allowed_cpu_sec']} | "
                 f"{entry['max_allowed_runtime_sec']} | {entry['step_hint']} | "
                 f"{entry['eval_period_time_sec']} |")
  lines += ["", "## Baselines on the base workloads (median over seeds of the best validation "
            "value; the best tuning trial's value)", "",
            "| workload | baseline | seeds | median best validation | per seed | best trial |",
            "|---|---|---|---|---|---|"]
  for name, entry in targets["workloads"].items():
    for baseline, row in entry.get("baselines", {}).items():
      median = row["median_best_validation"]
      per_seed = ", ".join(f"{v:.4f}" for v in row["best_validation_per_seed"])
      trial = row["best_trial_validation"]
      lines.append(f"| {name} | {baseline} | {row['seeds']} | "
                   f"{'-' if median is None else f'{median:.4f}'} | {per_seed} | "
                   f"{'-' if trial is None else f'{trial:.4f}'} |")
  return "\n".join(lines) + "\n"
