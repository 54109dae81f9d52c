"""`algoperf-lab time-budgets`: the tiny budgets timed again on this machine's processor.

set-targets' budgets are 4/3 of its timing runs' CPU (and wall) seconds, and CPU seconds belong
to the processor that spent them. On another model the same budget buys other steps, so runs
made there are neither comparable with the reference machine's nor fairly budgeted. This
command re-runs the very timing runs of targets.json (same specs: submission, hyperparameters,
seed, steps; only the folder differs) on this machine, under OUT/<processor slug>/<workload>/,
and derives that processor's budgets with set-targets' rules (`rules.budget`, `rules.eval_period`).
The targets themselves (validation and test values, step hints) are kept: they are values of
the metric, not of the clock. `--update_configs` files the budgets in configs/tiny_budgets.json,
which the tiny configs read on a machine of that model (configs/tiny_targets.py).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from algoperf_lab.atomic_files import write_text_atomically
from algoperf_lab.harness.records import RESULT_FILE
from algoperf_lab.processor import processor_model, processor_slug
from algoperf_lab.sweeps.engine import SweepOutcome, run_sweep
from algoperf_lab.sweeps.executors import Executor
from algoperf_lab.sweeps.spec import SPEC_FILE, TrialSpec
from algoperf_lab.target_setting import rules
from algoperf_lab.target_setting.procedure import TARGETS_FILE, seed_run, timing_dir
from configs import tiny_targets

BUDGETS_FILE = "budgets.json"
BUDGET_KEYS = ("max_allowed_cpu_sec", "max_allowed_runtime_sec", "eval_period_time_sec")


class BudgetTimingError(ValueError):
  """The targets folder cannot be timed again (no timing runs, unknown workload)."""


def read_targets(targets_dir: Path) -> dict[str, Any]:
  path = Path(targets_dir) / TARGETS_FILE
  if not path.is_file():
    raise BudgetTimingError(f"{path} does not exist: --targets names the folder set-targets "
                            "wrote (e.g. results/target_setting_tiny).")
  return json.loads(path.read_text())


def chosen_workloads(targets: Mapping[str, Any], workloads: Sequence[str] | None) -> list[str]:
  """The workloads to time (all with timing runs by default); an unknown or untimed one is
  refused by name."""
  timed = [name for name, entry in targets["workloads"].items() if entry.get("timing_runs")]
  if not workloads:
    return timed
  missing = [name for name in workloads if name not in timed]
  if missing:
    raise BudgetTimingError(f"--workloads: {missing} have no timing runs in targets.json "
                            f"(timed: {', '.join(timed)}).")
  return list(workloads)


def machine_dir(out: Path, model: str) -> Path:
  return Path(out) / processor_slug(model)


def timing_specs(targets_dir: Path, targets: Mapping[str, Any], workloads: Sequence[str],
                 out_dir: Path) -> list[TrialSpec]:
  """targets.json's timing runs as specs again, each under out_dir/<workload>/<setter>/...
  (the spec hash leaves the folder out, so each is the very trial that set the budget)."""
  specs = []
  for name in workloads:
    setter = targets["workloads"][name]["target_setting_algorithm"]
    reference = timing_dir(Path(targets_dir), name, setter)
    found = sorted(reference.glob(f"study_*/trial_0/{SPEC_FILE}"))
    if len(found) != len(targets["workloads"][name]["timing_runs"]):
      raise BudgetTimingError(f"{reference}: {len(found)} timing runs' {SPEC_FILE} for "
                              f"{len(targets['workloads'][name]['timing_runs'])} timing runs in "
                              f"targets.json; run set-targets --timing there first.")
    for path in found:
      data = {k: v for k, v in json.loads(path.read_text()).items() if k != "spec_hash"}
      relative = path.parent.relative_to(reference)
      specs.append(dataclasses.replace(
          TrialSpec.from_json(data), workdir=str(out_dir / name / setter / relative),
          label=f"{name} {setter} timing {relative.parts[0].replace('_', ' ')}"))
  return specs


def reference_processor(targets_dir: Path, targets: Mapping[str, Any],
                        workloads: Sequence[str]) -> str:
  """The processor model set-targets' own timing runs ran on (the reference budgets')."""
  models = {json.loads(path.read_text())["hardware"].get("processor")
            for name in workloads
            for path in timing_dir(Path(targets_dir), name,
                                   targets["workloads"][name]["target_setting_algorithm"])
            .glob(f"study_*/trial_0/{RESULT_FILE}")}
  if len(models) != 1:
    raise BudgetTimingError(f"{targets_dir}: the timing runs name processors {sorted(map(str, models))}; "
                            "expected one.")
  return str(next(iter(models)))


def machine_folder(out_dir: Path) -> Callable[[str, str], Path]:
  """Where this command puts a workload's timing runs: out_dir/<workload>/<setter>/."""
  return lambda workload, setter: Path(out_dir) / workload / setter


def machine_budgets(targets: Mapping[str, Any], workloads: Sequence[str],
                    folder_of: Callable[[str, str], Path]) -> dict[str, Any]:
  """Each timed workload's budgets from the timing runs under folder_of(workload, setter)
  (workloads whose runs have not all finished are left out), beside the reference budgets and
  the ratio between them. set-targets' own folders (procedure.timing_dir) give its budgets."""
  entries: dict[str, Any] = {}
  processors: set[str] = set()
  for name in workloads:
    entry = targets["workloads"][name]
    folder = folder_of(name, entry["target_setting_algorithm"])
    results = sorted(folder.glob(f"study_*/trial_0/{RESULT_FILE}"))
    runs = [r for r in (seed_run(p.parent, entry["metric"], entry["direction"] == "lower")
                        for p in results) if r is not None]
    if len(runs) < len(entry["timing_runs"]):
      continue  # unfinished (or diverged, which a re-run of the target setter cannot be)
    hardware = [json.loads(p.read_text())["hardware"] for p in results]
    processors |= {hw["processor"] for hw in hardware}
    cores = sorted({hw.get("usable_cpu_cores") for hw in hardware}, key=str)
    cpu = rules.budget([r.submission_time_sec for r in runs])
    entries[name] = {
        "max_allowed_cpu_sec": round(cpu, 1),
        "max_allowed_runtime_sec": round(rules.budget([r.wall_sec_outside_evals for r in runs]), 1),
        "eval_period_time_sec": round(rules.eval_period(cpu), 2),
        "reference_max_allowed_cpu_sec": entry["max_allowed_cpu_sec"],
        "over_reference": round(round(cpu, 1) / entry["max_allowed_cpu_sec"], 3),
        "median_submission_time_sec": statistics.median(r.submission_time_sec for r in runs),
        "timing_runs": [dataclasses.asdict(r) for r in runs],
        "timing_cpu_cores": cores,
        "records": str(folder)}
  if len(processors) > 1:
    raise BudgetTimingError(f"timing runs from several processors {sorted(processors)}: "
                            "one machine model per folder.")
  return {"processor": next(iter(processors)) if processors else None, "workloads": entries}


def budgets_config_entry(budgets: Mapping[str, Any], written: str) -> dict[str, Any]:
  """What configs/tiny_budgets.json holds for one processor: per workload the config keys."""
  return {"processor": budgets["processor"], "written": written,
          "workloads": {name: {**{k: entry[k] for k in BUDGET_KEYS},
                               "how_measured": (
                                   f"algoperf-lab time-budgets ({written[:10]}) on "
                                   f"{budgets['processor']}: set-targets' "
                                   f"{len(entry['timing_runs'])} timing runs again "
                                   f"({entry['records']}), budgets 4/3 of their median "
                                   "runtime, evals every 2% of the CPU budget; targets as "
                                   "set-targets set them")}
                        for name, entry in budgets["workloads"].items()}}


def install(budgets: Mapping[str, Any], written: str, reference: Mapping[str, str],
            path: Path | None = None) -> Path:
  """Files one processor's budgets in configs/tiny_budgets.json (other processors kept), with
  the reference machine's processor and where its budgets come from."""
  path = tiny_targets.BUDGETS_FILE if path is None else path
  current = json.loads(path.read_text()) if path.is_file() else {}
  machines = dict(current.get("machines", {}))
  machines[processor_slug(budgets["processor"])] = budgets_config_entry(budgets, written)
  content = {"about": tiny_targets.BUDGETS_ABOUT, "reference": dict(reference),
             "machines": dict(sorted(machines.items()))}
  write_text_atomically(path, json.dumps(content, indent=1) + "\n")
  return path


def time_budgets(targets_dir: Path, out: Path, workloads: Sequence[str] | None,
                 executor: Executor, *, update_configs: bool = False,
                 budgets_file: Path | None = None, report: Callable[[str], None] = print,
                 rerun_hint: str = "") -> SweepOutcome:
  """Runs the missing timing runs here, writes OUT/<slug>/budgets.json, and with
  update_configs files the budgets of the finished workloads in configs/tiny_budgets.json."""
  targets = read_targets(targets_dir)
  names = chosen_workloads(targets, workloads)
  model = processor_model()
  reference = {"processor": reference_processor(targets_dir, targets, names),
               "budgets": f"configs/tiny_targets.json, from {Path(targets_dir)}/<workload>/timing/"}
  if model == reference["processor"]:
    raise BudgetTimingError(f"this machine ({model}) is the one set-targets timed these budgets "
                            "on: its budgets are configs/tiny_targets.json's (set-targets "
                            "--timing times them again there).")
  out_dir = machine_dir(out, model)
  specs = timing_specs(targets_dir, targets, names, out_dir)
  report(f"time-budgets on {model}: {len(specs)} timing runs of {', '.join(names)} under "
         f"{out_dir} (keep the machine otherwise idle)")
  with tiny_targets.ignored():  # the timing runs are set-targets' own, before any budget
    outcome = run_sweep(specs, executor, report=report, rerun_hint=rerun_hint)
  budgets = machine_budgets(targets, names, machine_folder(out_dir))
  written = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
  write_text_atomically(out_dir / BUDGETS_FILE,
                        json.dumps({**budgets, "written": written}, indent=1) + "\n")
  for name, entry in budgets["workloads"].items():
    report(f"{name}: CPU budget {entry['max_allowed_cpu_sec']} s here, "
           f"{entry['reference_max_allowed_cpu_sec']} s on the reference machine "
           f"({entry['over_reference']}x)")
  unfinished = [name for name in names if name not in budgets["workloads"]]
  if unfinished:
    report(f"not timed yet (their timing runs have not all finished): {', '.join(unfinished)}; "
           "run the same command again")
  if update_configs and budgets["workloads"]:
    report(f"budgets for {model} filed in {install(budgets, written, reference, budgets_file)}")
  return outcome
