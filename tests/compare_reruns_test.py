"""scripts/compare_reruns.py pairs the same runs made twice and compares their CPU time per step."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.compare_reruns import pair_reruns, time_at_step
from algoperf_lab.scoring.records import MetricsCurve
from tests.helpers import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "compare_reruns.py"
WITHDRAWN = REPO_ROOT / "results" / "leaderboard_tiny_withdrawn"
BOARD = REPO_ROOT / "results" / "leaderboard_tiny"
CACHED = REPO_ROOT / "results" / "leaderboard_tiny_cached"  # made on the quiet machine


def test_time_at_a_step_is_read_off_the_evals_around_it():
  curve = MetricsCurve(times=(10.0, 20.0, 40.0), values=(3.0, 2.0, 1.0), warnings=(),
                       steps=(10, 30, 50))
  assert time_at_step(curve, 30) == 20.0
  assert time_at_step(curve, 40) == pytest.approx(30.0)
  with pytest.raises(ValueError, match="outside the evals"):
    time_at_step(curve, 60)


@pytest.mark.parametrize("quiet", [BOARD, CACHED])
def test_the_withdrawn_runs_pair_with_their_quiet_reruns(quiet):
  pairs, left_out = pair_reruns(WITHDRAWN, quiet)
  withdrawn = sorted(p.parent.relative_to(WITHDRAWN).as_posix()
                     for p in WITHDRAWN.rglob("result.json"))
  assert len(withdrawn) == 19
  assert sorted(p.name for p in pairs) + sorted(r.split(":")[0] for r in left_out) == withdrawn
  for p in pairs:
    first = json.loads((p.first.run_dir / "spec.json").read_text())
    second = json.loads((p.second.run_dir / "spec.json").read_text())
    assert first["spec_hash"] == second["spec_hash"], p.name  # the same run, made twice
    assert 0 < p.steps and p.first_cpu_sec > 0 and p.second_cpu_sec > 0
    # Same seed and code: wherever both evaluated at one step, they computed the same value.
    if p.largest_metric_difference is not None:
      assert p.largest_metric_difference < 1e-5, p.name


def test_the_script_prints_a_line_per_pair_and_a_summary(tmp_path: Path):
  done = subprocess.run(  # the README's command
      [sys.executable, "scripts/compare_reruns.py", "results/leaderboard_tiny_withdrawn",
       "results/leaderboard_tiny"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
  pairs, _ = pair_reruns(WITHDRAWN, BOARD)
  assert done.returncode == (0 if pairs else 1), done.stderr
  lines = done.stdout.splitlines()
  assert sum(line.startswith("self_tuning/lm/") for line in lines) == len(pairs)
  if pairs:
    assert any(line.startswith(f"{len(pairs)} pairs: CPU-time ratio") for line in lines)
  missing = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "nowhere"), str(BOARD)],
                           capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
  assert missing.returncode == 2 and "no such folder" in missing.stderr


def test_the_readme_s_load_effect_is_the_records():
  import statistics

  pairs, _ = pair_reruns(WITHDRAWN, BOARD)
  ratios = [p.ratio for p in pairs]
  assert len(pairs) == 19 and all(p.largest_metric_difference in (None, 0.0) for p in pairs)
  readme = " ".join((REPO_ROOT / "README.md").read_text().split())
  assert (f"the loaded ones had taken {min(ratios):.3f}–{max(ratios):.3f}× the process-CPU time "
          f"for the same steps (median {statistics.median(ratios):.3f}, all {len(pairs)} pairs, "
          "both runs compiling from scratch)") in readme
  assert f"about {100 * (statistics.median(ratios) - 1):.1f}% here" in readme
  moved = [p for p in pairs if p.first.status != p.second.status]
  assert [p.name.split("/")[2] for p in moved] == ["momo"]
  momo = moved[0]
  assert (momo.first.status, momo.second.status) == ("missed", "reached")
  budget = json.loads((momo.second.run_dir / "result.json").read_text())["max_allowed_runtime_sec"]
  assert (f"MoMo missed when loaded and, quiet, reached the target at "
          f"{momo.second.time_to_target_sec:.1f} of its {budget:.1f} CPU s") in readme
  assert ("python scripts/compare_reruns.py results/leaderboard_tiny_withdrawn "
          "results/leaderboard_tiny") in readme


def test_the_readme_s_compilation_effect_is_the_records():
  """The multi-task and MoE boards made twice: with the persistent compilation cache, then each
  run compiling from scratch; the time to the first step both evaluated tells them apart."""
  import statistics

  pairs = []
  for board in ("moe", "multi_task"):
    made, left_out = pair_reruns(CACHED / board, BOARD / board)
    assert not left_out, left_out
    pairs += made
  assert len(pairs) == 20 + 35
  for p in pairs:
    assert json.loads((p.first.run_dir / "result.json").read_text()).get("compilation_cache") is None
    assert json.loads((p.second.run_dir / "result.json").read_text())["compilation_cache"] is False
  sooner = [p.second_start_sec - p.first_start_sec for p in pairs]
  loaded = [d for d in sooner if d > 1.0]  # bimodal: ~0 where both compiled, seconds where not
  compiled = [d for d in sooner if d <= 1.0]
  assert max(compiled) < 1.0 < min(loaded) - 0.5  # the two groups lie apart
  readme = " ".join((REPO_ROOT / "README.md").read_text().split())
  assert (f"in {len(loaded)} of {len(pairs)} pairs the run made with the cache reached the first "
          f"step both evaluated {min(loaded):.1f}–{max(loaded):.1f} s sooner (median "
          f"{statistics.median(loaded):.1f} s): it had loaded what an earlier run compiled; in "
          f"the other {len(compiled)} the two differ by {min(compiled):.1f} to "
          f"{max(compiled):.1f} s, both having compiled") in readme
  ratios = [p.ratio for p in pairs]
  assert (f"took {min(ratios):.3f}–{max(ratios):.3f}× (median {statistics.median(ratios):.3f}) "
          "the CPU time of the quiet second runs for the same steps") in readme
  assert all(p.first.status == p.second.status == "missed" for p in pairs)  # "no score moved"
  for board in ("moe", "multi_task"):
    command = (f"python scripts/compare_reruns.py results/leaderboard_tiny_cached/{board} "
               f"results/leaderboard_tiny/{board}")
    assert command in readme
    done = subprocess.run([sys.executable, *command.split()[1:]], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 0 and "same outcome in" in done.stdout, done.stderr


AMD_WITHDRAWN = REPO_ROOT / "results" / "leaderboard_tiny_amd_epyc_withdrawn"


def _processor(run_dir: Path) -> str:
  return json.loads((run_dir / "result.json").read_text())["hardware"]["processor"]


def test_the_readme_s_processor_effect_is_the_records():
  """The self-tuning runs made on the AMD machine under the Intel budgets, against the same
  runs made earlier on the Intel machine: the README's ratio, range and COCOB's flip."""
  import statistics

  pairs, _ = pair_reruns(CACHED / "self_tuning", AMD_WITHDRAWN / "self_tuning")
  assert {_processor(p.first.run_dir) for p in pairs} == {"Intel(R) Xeon(R) Processor"}
  assert {_processor(p.second.run_dir) for p in pairs} == {"AMD EPYC"}
  ratios = [p.ratio for p in pairs]
  median = statistics.median(ratios)
  largest = max(pairs, key=lambda p: p.largest_metric_difference or 0.0)
  moved = [p for p in pairs if p.first.status != p.second.status]
  readme = " ".join((REPO_ROOT / "README.md").read_text().split())
  assert (f"(study 0, {len(pairs)} pairs), they took {1 / median:.2f}× the process-CPU time for "
          f"the same steps (ratio Intel/AMD median {median:.3f}, range {min(ratios):.3f}–"
          f"{max(ratios):.3f}) and computed different values at shared evals (up to "
          f"{largest.largest_metric_difference:.2f} accuracy on vit for COCOB, whose verdict "
          "flipped)") in readme
  assert largest.name.split("/")[:2] == ["vit", "cocob"]
  assert [p.name.split("/")[:2] for p in moved] == [["vit", "cocob"]]
  assert "40 runs there under the Intel budgets" in readme
  assert len(list(AMD_WITHDRAWN.glob("self_tuning/*/*/study_*/trial_*/result.json"))) == 40


AMD_BOARD = REPO_ROOT / "results" / "leaderboard_tiny_amd-epyc"


@pytest.mark.parametrize("workload", ["lm", "vit"])
def test_the_readme_s_board_to_board_processor_effect_is_the_records(workload):
  """The AMD board's external study 0 against the Intel board's: the same trials, the AMD runs
  under the AMD budgets; the README's ratios and the steps a budget buys on each board."""
  import statistics

  from configs import tiny_targets

  pairs, left_out = pair_reruns(BOARD / "external" / workload, AMD_BOARD / "external" / workload)
  assert len(pairs) == 30 and not left_out
  for p in pairs:
    first = json.loads((p.first.run_dir / "result.json").read_text())
    second = json.loads((p.second.run_dir / "result.json").read_text())
    assert first["hparams"] == second["hparams"] and first["seed"] == second["seed"]
    assert (first["hardware"]["processor"], second["hardware"]["processor"]) == (
        "Intel(R) Xeon(R) Processor", "AMD EPYC")
  ratios = [p.ratio for p in pairs]
  median = statistics.median(ratios)
  readme = " ".join((REPO_ROOT / "README.md").read_text().split())
  assert (f"{1 / median:.2f}× the process-CPU time for the same steps on {workload} (ratio "
          f"Intel/AMD median {median:.3f}, range {min(ratios):.3f}–{max(ratios):.3f}, 30 pairs)"
          if workload == "lm" else
          f"{1 / median:.2f}× on vit (median {median:.3f}, range {min(ratios):.3f}–"
          f"{max(ratios):.3f}, 30 pairs)") in readme
  amd = tiny_targets.this_machine_budgets(workload, "AMD EPYC")["max_allowed_cpu_sec"]
  intel = json.loads(tiny_targets.TARGETS_FILE.read_text())[workload]["max_allowed_cpu_sec"]
  fewer = 1 - amd / intel * median
  assert f"about {round(100 * fewer)}% fewer steps on {workload}" in readme or (
      f"{round(100 * fewer)}% fewer on {workload}" in readme), fewer
  command = (f"python scripts/compare_reruns.py results/leaderboard_tiny/external/{workload} "
             f"results/leaderboard_tiny_amd-epyc/external/{workload}")
  assert command in readme
  done = subprocess.run([sys.executable, *command.split()[1:]], capture_output=True, text=True,
                        cwd=REPO_ROOT, timeout=120)
  assert done.returncode == 0 and f"30 pairs: CPU-time ratio first/second for the same steps, median {median:.3f}" in done.stdout, done.stderr


def test_the_readme_s_sitting_to_sitting_drift_is_the_records():
  """The AMD timing runs and one board run made again hours later, two side by side: the same
  values at every shared eval, and the README's ratios (capped timing runs read as well)."""
  rerun = pair_reruns(REPO_ROOT / "results" / "budgets_tiny" / "amd-epyc",
                      REPO_ROOT / "results" / "budgets_tiny_reruns" / "amd-epyc")[0]
  board = pair_reruns(AMD_BOARD / "external" / "lm" / "adamw",
                      REPO_ROOT / "results" / "leaderboard_tiny_amd-epyc_reruns" / "external" /
                      "lm" / "adamw")[0]
  assert sorted(p.name for p in rerun) == ["gnn/nadamw_optax/study_0/trial_0",
                                           "gnn/nadamw_optax/study_1/trial_0",
                                           "gnn/nadamw_optax/study_2/trial_0",
                                           "lm/adamw/study_0/trial_0"]
  assert [p.name for p in board] == ["study_0/trial_2"]
  for p in rerun + board:
    assert p.largest_metric_difference == 0.0 and p.shared_eval_steps >= 5, p.name
    first = json.loads((p.first.run_dir / "spec.json").read_text())
    second = json.loads((p.second.run_dir / "spec.json").read_text())
    assert first["spec_hash"] == second["spec_hash"]
  lm = next(p for p in rerun if p.name.startswith("lm/"))
  gnn = [p.ratio for p in rerun if p.name.startswith("gnn/")]
  readme = " ".join((REPO_ROOT / "README.md").read_text().split())
  assert (f"took {1 / lm.ratio:.2f}× the CPU time its run of 23:55 the night before had taken "
          f"for the same steps, while gnn's three timing runs took {1 / max(gnn):.2f}–"
          f"{1 / min(gnn):.2f}× theirs, and a board lm run made beside it "
          f"{1 / board[0].ratio:.2f}× its own of 00:26") in readme
  assert lm.first.status == "reached" and lm.second.status == "capped"  # targets differ, not values
  for command in ("python scripts/compare_reruns.py results/budgets_tiny/amd-epyc "
                  "results/budgets_tiny_reruns/amd-epyc",
                  "python scripts/compare_reruns.py results/leaderboard_tiny_amd-epyc/external/lm/"
                  "adamw results/leaderboard_tiny_amd-epyc_reruns/external/lm/adamw"):
    assert command in readme
    done = subprocess.run([sys.executable, *command.split()[1:]], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 0 and "pairs: CPU-time ratio" in done.stdout, done.stderr
