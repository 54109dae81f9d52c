"""Which submission clock a run uses, and that it is recorded and kept apart in scoring."""

from __future__ import annotations

import json

import pytest

from algoperf_lab import cli
from algoperf_lab.harness.clock import CLOCKS, ClockError, resolve_clock
from tests.helpers import ADAMW, SMALL_LM_OVERRIDES

RUN = ("run", "--workload=lm", f"--submission={ADAMW}", "--max_steps=2", "--eval_every_steps=2",
       "--no_progress", "--no_checkpoints", *SMALL_LM_OVERRIDES)


def test_auto_is_process_cpu_only_on_cpu_with_a_measured_budget():
  assert resolve_clock("auto", "cpu", cpu_budget_measured=True) == "process_cpu"
  assert resolve_clock("auto", "cpu", cpu_budget_measured=False) == "wall"
  assert resolve_clock("auto", "gpu", cpu_budget_measured=True) == "wall"
  assert resolve_clock("wall", "cpu", cpu_budget_measured=True) == "wall"


def test_process_cpu_needs_a_cpu_and_a_budget_in_cpu_seconds():
  with pytest.raises(ClockError, match="says nothing about work on a gpu device"):
    resolve_clock("process_cpu", "gpu", cpu_budget_measured=True)
  with pytest.raises(ClockError, match="no measured budget in process CPU seconds"):
    resolve_clock("process_cpu", "cpu", cpu_budget_measured=False)
  assert resolve_clock("process_cpu", "cpu", False, budget_given=True) == "process_cpu"


def test_the_process_clock_counts_cpu_time():
  assert CLOCKS["process_cpu"].__name__ == "process_time"


def test_the_clock_is_recorded_and_mixed_clocks_are_not_scored_together(tmp_path, capsys):
  assert cli.main([*RUN, f"--workdir={tmp_path / 'cpu'}", "--clock=process_cpu",
                   "--max_runtime_sec=100"]) == 0
  assert cli.main([*RUN, f"--workdir={tmp_path / 'wall'}", "--clock=wall",
                   "--max_runtime_sec=100"]) == 0
  assert json.loads((tmp_path / "cpu" / "result.json").read_text())["clock"] == "process_cpu"
  assert json.loads((tmp_path / "wall" / "result.json").read_text())["clock"] == "wall"
  capsys.readouterr()
  code = cli.main(["score", str(tmp_path / "cpu"), str(tmp_path / "wall"),
                   f"--out={tmp_path / 'scores'}"])
  assert code == 2 and "clock" in capsys.readouterr().err


def test_process_cpu_without_a_budget_is_one_clear_line(tmp_path, capsys):
  assert cli.main([*RUN, f"--workdir={tmp_path / 'r'}", "--clock=process_cpu",
                   "--config.targets.max_allowed_cpu_sec=0.0"]) == 2
  assert "no measured budget in process CPU seconds" in capsys.readouterr().err


def test_a_float_batch_size_is_one_clear_line(tmp_path, capsys):
  path = tmp_path / "float_batch.py"
  path.write_text('"""x"""\nimport optax\nHPARAMS = {"learning_rate": 1e-3}\n'
                  "def get_batch_size(workload_name):\n  return 1e9\n"
                  "def make_optimizer(hparams, workload):\n  return optax.adam(hparams.learning_rate)\n")
  assert cli.main([*RUN, f"--submission={path}", f"--workdir={tmp_path / 'r'}"]) == 2
  assert "returned 1000000000.0; expected a positive int" in capsys.readouterr().err


# Tiny workloads whose CPU budget is still to be measured (they keep wall time until then).
CPU_BUDGET_NOT_YET_MEASURED: set[str] = set()


def test_every_tiny_workload_has_a_measured_cpu_budget():
  """So `--clock=auto` times every tiny workload by process CPU time on a CPU backend."""
  from algoperf_lab import registry  # pylint: disable=import-outside-toplevel
  for name, workload_class in registry.workload_classes().items():
    if "tiny" not in workload_class.sizes:
      continue
    targets = registry.workload_config(name, "tiny").targets
    if name in CPU_BUDGET_NOT_YET_MEASURED:  # once measured, take it off the list
      assert targets.max_allowed_cpu_sec == 0.0, f"{name}: measured now, update the list"
      continue
    assert targets.max_allowed_cpu_sec > 0, f"{name}/tiny has no CPU budget"
    # Measured by the retired measure_cpu_budgets.py, by set-targets, or on this machine's
    # processor by time-budgets (its how_measured).
    assert ("measure_cpu_budgets.py" in targets.how_measured
            or "algoperf-lab set-targets" in targets.how_measured
            or "algoperf-lab time-budgets" in targets.how_measured), name
