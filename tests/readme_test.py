"""Every command in the README's code blocks is run here, in the README's order.

The fast test runs each `algoperf-lab` command with a small model and a few steps (paths under
`runs/` go to a temporary folder); slow tests run them as written, and the setup script with
its main job. `bash scripts/test.sh` is what CI runs (checked against .ci/run).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.time_budgets_smoke import write_smoke_targets
from tests.helpers import REPO_ROOT, SMALL_LM_OVERRIDES

README = REPO_ROOT / "README.md"
KNOWN_PREFIXES = ("algoperf-lab ", "bash scripts/setup.sh", "bash scripts/test.sh",
                  "source .venv/bin/activate",
                  "python benchmarks/step_overhead.py", "python benchmarks/clock_under_load.py",
                  "python scripts/submissions_table.py",
                  "python benchmarks/moe_step.py", "python scripts/moe_study.py",
                  "python scripts/mtl_study.py", "python benchmarks/sam_cost.py",
                  "python benchmarks/eval_resolution.py", "python benchmarks/sweep_throughput.py",
                  "python scripts/compare_reruns.py")
FAST_ARGS = {
    # A budget of 1 CPU second, not --max_steps: a capped run is refused by score (issue 19).
    "run": ("--max_runtime_sec=1", "--eval_every_steps=2", "--no_progress", *SMALL_LM_OVERRIDES),
    "tune": ("--config.targets.max_allowed_cpu_sec=1.0", "--eval_every_steps=2", "--no_progress", *SMALL_LM_OVERRIDES),
    # One candidate per method on lm (the command's --workloads is replaced, as for measure_*).
    "calibrate": ("--candidates=1", "--config.targets.max_allowed_cpu_sec=1.0", "--eval_every_steps=2", "--no_progress",
                  *SMALL_LM_OVERRIDES),
    "study": ("--workloads=gnn", "--submissions=linear_scalarisation", "--eval_every_steps=2",
              "--no_progress", "--config.data.max_molecules=1000",
              "--config.targets.max_allowed_cpu_sec=2.0"),
    "set-targets": ("--study=tests/fixtures/target_setting_smoke.py", "--no_progress"),
    # Its gnn timing runs cut to 2 steps (tests/fixtures/time_budgets_smoke.py); the folders
    # and the budgets file are the test's own (added in the test).
    "time-budgets": ("--workloads=gnn",),
    "leaderboard": ("--bootstrap_samples=20",),
    "demo": ("--no_progress", "--workloads=lm", *SMALL_LM_OVERRIDES, "--clock=wall",
             "--config.targets.max_allowed_runtime_sec=3.0",
             "--config.targets.eval_period_time_sec=1.0"),
    "benchmarks/step_overhead.py": ("--rounds=1", "--blocks=1", "--steps_per_block=2",
                                    *SMALL_LM_OVERRIDES),
    "benchmarks/clock_under_load.py": ("--rounds=1", "--steps=2", *SMALL_LM_OVERRIDES),
    "scripts/submissions_table.py": ("--workloads=lm", "--submissions=submissions/baselines/adamw.py",
                                     *SMALL_LM_OVERRIDES, "--config.targets.validation=8.5",
                                     "--config.targets.eval_period_time_sec=0.5"),
    "benchmarks/moe_step.py": ("--rounds=1", "--blocks=1", "--steps_per_block=2", "--small"),
    # Two of the four rules, two steps, a width-32 model, on the script's 8 fake devices.
    "scripts/moe_study.py": ("--seeds=0", "--balances=micro_batch_lbl,global_batch_lbl",
                             "--max_steps=2", "--eval_every_steps=2", "--small"),
    # The reference and one SAM-MTL, on gnn only, four steps on 1,000 molecules.
    "scripts/mtl_study.py": ("--seeds=0", "--workloads=gnn", "--submissions=sam_mtl",
                             "--override=--config.targets.max_allowed_cpu_sec=2.0",
                             "--eval_every_steps=2",
                             "--override=--config.data.max_molecules=1000"),
    "benchmarks/eval_resolution.py": ("--workloads=lm", "--budget_fraction=0.02",
                                      *(f"--override={o}" for o in SMALL_LM_OVERRIDES)),
    "benchmarks/sweep_throughput.py": ("--trials=2", "--steps=4",
                                       "--override=--config.data.max_molecules=1000"),
    "benchmarks/sam_cost.py": ("--rounds=1", "--blocks=1", "--steps_per_block=1", "--small",
                               "--submissions=sam"),
    "scripts/compare_reruns.py": (),  # reads committed records only: already quick
}
PYTHON_SCRIPTS = ("benchmarks/step_overhead.py", "benchmarks/clock_under_load.py",
                  "scripts/submissions_table.py", "benchmarks/moe_step.py", "scripts/moe_study.py",
                  "scripts/mtl_study.py", "benchmarks/sam_cost.py", "benchmarks/eval_resolution.py",
                  "benchmarks/sweep_throughput.py", "scripts/compare_reruns.py")


def readme_commands() -> list[str]:
  commands = []
  for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S):
    for line in block.splitlines():
      command = line.split("#", 1)[0].strip()
      if command:
        commands.append(command)
  return commands


def _algoperf_lab_commands() -> list[str]:
  return [c for c in readme_commands() if c.startswith("algoperf-lab ")]


def _relocated(command: str, tmp_path: Path) -> list[str]:
  """The command's arguments with every `runs/...` path moved under tmp_path."""
  moved = []
  for arg in shlex.split(command):
    key, sep, value = arg.partition("=")
    if sep and value.startswith("runs/"):
      arg = f"{key}={tmp_path / value}"
    elif arg.startswith("runs/"):
      arg = str(tmp_path / arg)
    moved.append(arg)
  return moved


def _execute(args: list[str], timeout: int) -> subprocess.CompletedProcess[str]:
  executable = str(REPO_ROOT / ".venv" / "bin" / args[0])
  return subprocess.run([executable, *args[1:]], capture_output=True, text=True, cwd=REPO_ROOT,
                        timeout=timeout)


def test_readme_has_only_commands_that_tests_cover():
  commands = readme_commands()
  assert commands[:2] == ["bash scripts/setup.sh", "bash scripts/test.sh"]  # the first two
  unknown = [c for c in commands if not c.startswith(KNOWN_PREFIXES)]
  assert not unknown, f"README commands no test runs: {unknown}"
  subcommands = {shlex.split(c)[1] for c in _algoperf_lab_commands()}
  assert subcommands <= {"list", *FAST_ARGS, "score", "export-algoperf", "leaderboard"}, subcommands
  assert {"list", "run", "tune", "score", "demo"} <= subcommands


def test_ci_runs_the_readme_test_command():
  ci_lines = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()]
  assert readme_commands()[1] in ci_lines


def test_setup_script_main_job_is_the_demo():
  assert ".venv/bin/algoperf-lab demo" in (REPO_ROOT / "scripts" / "setup.sh").read_text()


def _python_commands() -> list[str]:
  """The README's python commands, one per script and argument set that the fast run would
  actually differ in (several measure_* lines differ only in --workloads/--seeds, which the fast
  run replaces)."""
  seen, unique = set(), []
  for command in readme_commands():
    if not command.startswith("python "):
      continue
    args = shlex.split(command)
    if args[1] in ("scripts/submissions_table.py",):
      key = (args[1],)
    else:
      key = tuple(args)
    if key not in seen:
      seen.add(key)
      unique.append(command)
  return unique


@pytest.mark.parametrize("command", _python_commands())
def test_readme_python_scripts_run_quickly(command, tmp_path):
  args = _relocated(command, tmp_path)
  script = args[1]
  assert script in PYTHON_SCRIPTS, f"no fast arguments known for {script}"
  done = subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "python"), *args[1:],
                         *FAST_ARGS[script]], capture_output=True, text=True, cwd=REPO_ROOT,
                        timeout=600)
  assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
  # A Markdown table, a ratio, the multi-task table's header or the step-cost line.
  assert any(mark in done.stdout for mark in ("|", "ratio", "Δm% vs LS", "step time:"))


def test_readme_commands_run_quickly_in_order(tmp_path):
  for command in _algoperf_lab_commands():
    if "../shared/" in command and not (REPO_ROOT.parent / "shared").is_dir():
      continue  # AlgoPerf's logs come with ../shared (as in CI); a bare clone has none
    args = _relocated(command, tmp_path)
    if args[1] in ("calibrate", "time-budgets"):
      args = [a for a in args if not a.startswith("--workloads=")]
    if args[1] == "calibrate":
      args.append("--workloads=lm")
    if args[1] == "time-budgets":
      args += [f"--targets={write_smoke_targets(tmp_path / 'smoke_targets')}",
               f"--out={tmp_path / 'budgets'}", f"--budgets_file={tmp_path / 'budgets.json'}"]
    args += FAST_ARGS.get(args[1], ())
    done = _execute(args, timeout=600)
    assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
    if args[1] == "run":
      workdir = Path(next(a for a in args if a.startswith("--workdir=")).split("=", 1)[1])
      record = json.loads((workdir / "result.json").read_text())
      assert record["status"] == "missed" and record["stop_reason"] == "budget spent"
    if args[1] == "calibrate":
      workdir = Path(next(a for a in args if a.startswith("--workdir=")).split("=", 1)[1])
      assert (workdir / "report" / "report.md").is_file()
    if args[1] == "set-targets":
      out = Path(next(a for a in args if a.startswith("--out=")).split("=", 1)[1])
      assert "gnn" in json.loads((out / "targets.json").read_text())["workloads"]
    if args[1] == "time-budgets":
      filed = json.loads((tmp_path / "budgets.json").read_text())
      (machine,) = filed["machines"].values()
      assert set(machine["workloads"]) == {"gnn"} and "reference" in filed
    if args[1] == "leaderboard":
      out = Path(next(a for a in args if a.startswith("--out=")).split("=", 1)[1])
      assert (out / "index.html").is_file() and (out / "plotly.min.js").is_file()
    if args[1] == "score":
      out = Path(next(a for a in args if a.startswith("--out=")).split("=", 1)[1])
      assert (out / "scores.json").is_file() and (out / "performance_profile.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c in _algoperf_lab_commands()
                                     if shlex.split(c)[1] == "run" and "nadamw" in c])
def test_readme_nadamw_run_as_written_is_held_to_the_installed_target(command, tmp_path):
  """Since the targets were set by tuned baselines (2026-12-06), NadamW's defaults are not
  expected to reach lm's; the run as written must end by the rules either way."""
  from configs import lm

  done = _execute(_relocated(command, tmp_path), timeout=900)
  assert done.returncode == 0, done.stderr[-2000:]
  workdir = Path(next(a for a in _relocated(command, tmp_path)
                      if a.startswith("--workdir=")).split("=", 1)[1])
  record = json.loads((workdir / "result.json").read_text())
  targets = lm.get_config("tiny").targets
  assert record["target_value"] == targets.validation
  assert record["max_allowed_runtime_sec"] == targets.max_allowed_cpu_sec
  assert (record["status"], record["stop_reason"]) in (
      ("reached", "target reached"), ("missed", "budget spent")), record


@pytest.mark.slow
def test_setup_script_installs_and_runs_the_main_job():
  done = subprocess.run(["bash", "scripts/setup.sh"], capture_output=True, text=True,
                        cwd=REPO_ROOT, timeout=1500)
  assert done.returncode == 0, done.stderr[-2000:]
  scores = json.loads((REPO_ROOT / "runs" / "demo" / "report" / "scores.json").read_text())
  assert set(scores["submissions"]) >= {"nadamw_optax", "adamw"}
