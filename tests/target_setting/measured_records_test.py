"""The committed target-setting records (results/target_setting_tiny/) still give their
targets.json, the README's table of old / new targets, and (once installed) the configs."""

from __future__ import annotations

import importlib
import json
import pytest

from algoperf_lab.target_setting import installed, procedure
from configs import tiny_targets
from tests.helpers import REPO_ROOT

OUT = REPO_ROOT / "results" / "target_setting_tiny"
STUDY = REPO_ROOT / "configs" / "studies" / "target_setting_tiny.py"


def _targets() -> dict:
  return json.loads((OUT / "targets.json").read_text())


def test_targets_json_is_recomputed_from_the_records():
  plan = procedure.plan_from_config(procedure.load_study_config(STUDY))
  recomputed = procedure.collect_targets(plan, OUT)["workloads"]
  assert recomputed == _targets()["workloads"]
  assert {"gnn", "gnn_gelu", "gnn_silu", "gnn_deep"} <= set(recomputed)


def test_the_readme_table_gives_old_and_new_values_of_every_measured_workload():
  readme = (REPO_ROOT / "README.md").read_text()
  for name, entry in _targets()["workloads"].items():
    with tiny_targets.ignored():
      old = importlib.import_module(f"configs.{name}").get_config("tiny").targets
    row = (f"| {name} | {old.validation} / {entry['validation']} | {old.test} / {entry['test']}"
           f" | {old.max_allowed_cpu_sec:g} / {entry['max_allowed_cpu_sec']} | {old.step_hint} / "
           f"{entry['step_hint']} | {old.eval_period_time_sec:g} / "
           f"{entry['eval_period_time_sec']} |")
    assert row in readme, row


def test_installed_targets_are_those_of_the_records(monkeypatch):
  if not tiny_targets.TARGETS_FILE.is_file():
    pytest.skip("configs/tiny_targets.json is not installed yet (budgets await --timing)")
  # As on the machine these budgets were timed on (another processor reads its own budgets:
  # tests/sweeps/board_hardware_test.py).
  reference = json.loads(tiny_targets.BUDGETS_FILE.read_text())["reference"]["processor"]
  monkeypatch.setattr(tiny_targets, "processor_model", lambda: reference)
  targets = _targets()
  for name, values in json.loads(tiny_targets.TARGETS_FILE.read_text()).items():
    assert values == installed.config_values(targets, name), name
    config = importlib.import_module(f"configs.{name}").get_config("tiny").targets
    assert {k: config[k] for k in installed.CONFIG_KEYS} == {
        k: values[k] for k in installed.CONFIG_KEYS}
