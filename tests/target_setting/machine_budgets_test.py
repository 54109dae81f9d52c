"""`time-budgets`: set-targets' timing runs again on another processor, and the budgets the
tiny configs then read there. Tested on the committed records of both machines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from algoperf_lab import processor
from algoperf_lab.sweeps.executors import LocalExecutor
from algoperf_lab.sweeps.spec import spec_hash, TrialSpec
from algoperf_lab.target_setting import machine_budgets, procedure
from configs import tiny_targets
from tests.helpers import REPO_ROOT

TARGETS_DIR = REPO_ROOT / "results" / "target_setting_tiny"
BUDGETS_DIR = REPO_ROOT / "results" / "budgets_tiny"
AMD = "AMD EPYC"
INTEL = "Intel(R) Xeon(R) Processor"


def _targets() -> dict:
  return machine_budgets.read_targets(TARGETS_DIR)


def test_processor_slugs():
  assert processor.processor_slug(INTEL) == "intel-xeon-processor"
  assert processor.processor_slug(AMD) == "amd-epyc"
  assert processor.processor_slug("Intel(R) Core(TM) i7-9750H CPU @ 2.60GHz") == (
      "intel-core-i7-9750h-cpu-2-60ghz")
  assert processor.processor_slug("???") == "unknown"


def test_set_targets_own_timing_runs_give_its_budgets():
  """The budget arithmetic is set-targets': read off its own timing runs, it gives
  targets.json's budgets for every timed workload."""
  targets = _targets()
  names = machine_budgets.chosen_workloads(targets, None)
  assert {"gnn", "lm", "vit", "lm_moe"} <= set(names)
  budgets = machine_budgets.machine_budgets(
      targets, names, lambda name, setter: procedure.timing_dir(TARGETS_DIR, name, setter))
  assert budgets["processor"] == INTEL
  assert set(budgets["workloads"]) == set(names)
  for name, entry in budgets["workloads"].items():
    for key in machine_budgets.BUDGET_KEYS:
      assert entry[key] == targets["workloads"][name][key], (name, key)
    assert entry["over_reference"] == 1.0


def test_timing_specs_are_the_very_trials_that_set_the_budgets(tmp_path):
  targets = _targets()
  specs = machine_budgets.timing_specs(TARGETS_DIR, targets, ["lm", "gnn"], tmp_path / "amd-epyc")
  assert len(specs) == 6
  for spec in specs:
    name, setter, study = Path(spec.workdir).relative_to(tmp_path / "amd-epyc").parts[:3]
    reference = json.loads((procedure.timing_dir(TARGETS_DIR, name, setter) / study / "trial_0"
                            / "spec.json").read_text())
    assert spec_hash(spec) == reference["spec_hash"]
    assert spec.settings == reference["settings"] and spec.seed == reference["seed"]


def test_unknown_workload_is_refused_by_name():
  with pytest.raises(machine_budgets.BudgetTimingError, match=r"\['nope'\] have no timing runs"):
    machine_budgets.chosen_workloads(_targets(), ["lm", "nope"])
  with pytest.raises(machine_budgets.BudgetTimingError, match="does not exist"):
    machine_budgets.read_targets(REPO_ROOT / "results")


def test_committed_amd_budgets_are_recomputed_from_their_records(monkeypatch):
  """configs/tiny_budgets.json's AMD entry and results/budgets_tiny/amd-epyc/budgets.json are
  what the committed AMD timing runs give."""
  monkeypatch.chdir(REPO_ROOT)
  targets = _targets()
  stored = json.loads((BUDGETS_DIR / "amd-epyc" / machine_budgets.BUDGETS_FILE).read_text())
  names = list(stored["workloads"])
  assert {"gnn", "lm", "vit", "lm_moe"} <= set(names)
  recomputed = machine_budgets.machine_budgets(
      targets, names, machine_budgets.machine_folder(Path("results/budgets_tiny/amd-epyc")))
  assert recomputed["processor"] == AMD
  for name in names:
    assert recomputed["workloads"][name] == stored["workloads"][name]
  filed = json.loads(tiny_targets.BUDGETS_FILE.read_text())
  assert filed["reference"]["processor"] == INTEL
  for name in names:
    for key in machine_budgets.BUDGET_KEYS:
      assert filed["machines"]["amd-epyc"]["workloads"][name][key] == stored["workloads"][name][key]


def test_rerun_on_finished_records_runs_nothing_and_files_the_same_budgets(tmp_path, monkeypatch):
  """The command again, as on an AMD machine, over a copy of the committed records: every
  timing run is found finished (nothing runs), and the budgets filed equal the committed."""
  out = tmp_path / "budgets"
  shutil.copytree(BUDGETS_DIR / "amd-epyc", out / "amd-epyc")
  filed = tmp_path / "tiny_budgets.json"
  monkeypatch.setattr(machine_budgets, "processor_model", lambda: AMD)
  monkeypatch.setattr(tiny_targets, "BUDGETS_FILE", filed)
  monkeypatch.chdir(REPO_ROOT)
  lines: list[str] = []
  names = ["gnn", "lm", "vit", "lm_moe"]
  outcome = machine_budgets.time_budgets(
      TARGETS_DIR, out, names, LocalExecutor(lines.append), update_configs=True,
      report=lines.append)
  assert all(r.skipped for r in outcome.results) and len(outcome.results) == 12
  committed = json.loads((REPO_ROOT / "configs" / "tiny_budgets.json").read_text())
  written = json.loads(filed.read_text())
  for name in names:
    for key in machine_budgets.BUDGET_KEYS:
      assert (written["machines"]["amd-epyc"]["workloads"][name][key]
              == committed["machines"]["amd-epyc"]["workloads"][name][key])
  assert any(line.startswith("lm: CPU budget") and "x)" in line for line in lines)


def test_the_readme_table_is_the_committed_timing_runs():
  targets = _targets()
  stored = json.loads((BUDGETS_DIR / "amd-epyc" / machine_budgets.BUDGETS_FILE).read_text())
  readme = (REPO_ROOT / "README.md").read_text()
  for name in ("gnn", "lm", "vit", "lm_moe"):
    entry = stored["workloads"][name]
    amd = [r["submission_time_sec"] for r in entry["timing_runs"]]
    intel = [r["submission_time_sec"] for r in targets["workloads"][name]["timing_runs"]]
    row = (f"| {name} | {min(amd):.1f}–{max(amd):.1f} | {min(intel):.1f}–{max(intel):.1f} | "
           f"{entry['max_allowed_cpu_sec']} / {targets['workloads'][name]['max_allowed_cpu_sec']}"
           f" | {entry['over_reference']} |")
    assert row in readme, row
  assert ("algoperf-lab time-budgets --workloads=gnn,lm,vit,lm_moe --executor=processes "
          "--workers=2 --threads_per_worker=1 --update_configs") in readme


def test_the_reference_processor_is_refused(monkeypatch):
  """Its budgets are tiny_targets.json's: an entry of its own would override them."""
  monkeypatch.setattr(machine_budgets, "processor_model", lambda: INTEL)
  with pytest.raises(machine_budgets.BudgetTimingError, match="set-targets timed these budgets on"):
    machine_budgets.time_budgets(TARGETS_DIR, Path("unused"), ["gnn"], LocalExecutor(print))


def test_unfinished_timing_runs_leave_their_workload_out_and_say_so(tmp_path, monkeypatch):
  """A drained or killed time-budgets: the workloads whose timing runs all finished are filed,
  the others named (here lm's records are copied without one of its three runs)."""
  out = tmp_path / "budgets"
  shutil.copytree(BUDGETS_DIR / "amd-epyc", out / "amd-epyc")
  shutil.rmtree(out / "amd-epyc" / "lm" / "adamw" / "study_2")
  targets = _targets()
  budgets = machine_budgets.machine_budgets(targets, ["gnn", "lm"],
                                            machine_budgets.machine_folder(out / "amd-epyc"))
  assert set(budgets["workloads"]) == {"gnn"}
  monkeypatch.setattr(machine_budgets, "processor_model", lambda: AMD)
  monkeypatch.setattr(machine_budgets, "run_sweep", lambda specs, executor, **_: None)
  lines: list[str] = []
  machine_budgets.time_budgets(TARGETS_DIR, out, ["gnn", "lm"], LocalExecutor(lines.append),
                               update_configs=True, budgets_file=tmp_path / "b.json",
                               report=lines.append)
  assert "not timed yet (their timing runs have not all finished): lm; run the same command again" in lines
  assert set(json.loads((tmp_path / "b.json").read_text())["machines"]["amd-epyc"]["workloads"]) == {"gnn"}
