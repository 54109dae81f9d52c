"""Issue 13: scoring must not change rankings silently (pooled configs, incomplete studies,
different CPU hosts, options no score can be computed with)."""

import json
import math

import pytest

from algoperf_lab import cli
from algoperf_lab.harness.records import hardware_info
from algoperf_lab.scoring.records import MixedHardwareError, ScoringError
from algoperf_lab.scoring.report import format_score_table, score_directories
from tests.scoring.factories import CPU, lab_run

TIMES = [10.0 * (i + 1) for i in range(10)]


def _reaching(at: float, target: float = 2.0) -> list[float]:
  return [3.0 if t < at else target - 0.5 for t in TIMES]


def _standard(root, workloads=("lm", "vit", "gnn")):
  """adamw is fastest everywhere (score 1.0); sgd is twice as slow."""
  for w in workloads:
    lab_run(root, f"adamw_{w}", submission="adamw", workload=w, times=TIMES,
            losses=_reaching(40.0), ruleset="self")
    lab_run(root, f"sgd_{w}", submission="sgd", workload=w, times=TIMES,
            losses=_reaching(80.0), ruleset="self")


def test_a_run_with_another_target_is_not_pooled(tmp_path):
  runs = tmp_path / "runs"
  _standard(runs)
  # sgd reruns lm with an easy target (--config.targets.validation=5.0) as a second study.
  lab_run(runs, "sgd_lm_easy", submission="sgd", workload="lm", times=TIMES,
          losses=_reaching(10.0, target=5.0), target=5.0, study=1, ruleset="self")
  with pytest.raises(ScoringError, match="lm/tiny: records differ in target_value") as info:
    score_directories([runs], tmp_path / "out", bootstrap_samples=10)
  assert "workload_config.targets.validation" in str(info.value)
  assert "--group_by_config" in str(info.value)
  report = score_directories([runs], tmp_path / "out", bootstrap_samples=10,
                             group_by_config=True)
  standard = "lm/tiny [target_value=2.0, workload_config.targets.validation=2.0]"
  easy = "lm/tiny [target_value=5.0, workload_config.targets.validation=5.0]"
  assert set(report.workloads) == {standard, easy, "vit/tiny", "gnn/tiny"}
  assert report.submissions["sgd"].per_workload[standard].time_to_target_sec == 80.0
  assert report.submissions["sgd"].per_workload[easy].time_to_target_sec == 10.0


def test_different_budgets_are_not_pooled(tmp_path):
  runs = tmp_path / "runs"
  _standard(runs, workloads=("lm",))
  lab_run(runs, "adamw_lm_long", submission="adamw", workload="lm", times=TIMES,
          losses=_reaching(40.0), budget=999.0, study=1, ruleset="self")
  with pytest.raises(ScoringError, match="max_allowed_runtime_sec"):
    score_directories([runs], tmp_path / "out", bootstrap_samples=10)


def test_incomplete_studies_are_refused_not_misses(tmp_path, capsys):
  runs = tmp_path / "runs"
  _standard(runs)
  preempted = runs / "adamw_gnn" / "result.json"
  record = json.loads(preempted.read_text())
  record.update(status="preempted", reached_target=False, time_to_target_sec=None)
  preempted.write_text(json.dumps(record))
  with pytest.raises(ScoringError, match="1 record") as info:
    score_directories([runs], tmp_path / "out", bootstrap_samples=10)
  assert str(preempted) in str(info.value) and "--allow_incomplete" in str(info.value)
  assert cli.main(["score", str(runs), f"--out={tmp_path / 'cli'}", "--bootstrap_samples=10"]) == 2
  assert len(capsys.readouterr().err.strip().splitlines()) == 1

  report = score_directories([runs], tmp_path / "out", bootstrap_samples=10,
                             allow_incomplete=True)
  assert report.has_gap("adamw", "gnn/tiny") and not report.has_gap("sgd", "gnn/tiny")
  assert "miss†" in format_score_table(report)
  md = (tmp_path / "out" / "report.md").read_text()
  assert "(0/0)†" in md and "preempted or still running" in md
  assert json.loads((tmp_path / "out" / "scores.json").read_text())["incomplete"] == [
      ["adamw", "gnn/tiny"]]


def test_corrupt_record_is_incomplete_but_a_failed_run_is_a_miss(tmp_path):
  runs = tmp_path / "runs"
  _standard(runs, workloads=("lm", "vit"))
  corrupt = runs / "adamw_vit" / "result.json"
  corrupt.write_text(corrupt.read_text()[:80])
  with pytest.raises(ScoringError, match="malformed or truncated JSON"):
    score_directories([runs], tmp_path / "out", bootstrap_samples=10)
  report = score_directories([runs], tmp_path / "out", bootstrap_samples=10,
                             allow_incomplete=True)
  assert report.unattributed_gaps == 1 and "could not be attributed" in format_score_table(report)

  failed = runs / "adamw_vit" / "result.json"
  record = json.loads((runs / "adamw_lm" / "result.json").read_text())
  record.update(workload="vit", status="failed", error="RuntimeError: boom",
                reached_target=False, time_to_target_sec=None)
  failed.write_text(json.dumps(record))
  report = score_directories([runs], tmp_path / "out", bootstrap_samples=10)
  assert math.isinf(report.submissions["adamw"].per_workload["vit/tiny"].time_to_target_sec)
  assert not report.gaps and report.submissions["adamw"].benchmark_score == pytest.approx(0.5)


def test_cpu_hosts_with_other_processors_or_core_counts_are_different_hardware(tmp_path):
  info = hardware_info()
  assert isinstance(info["processor"], str) and info["processor"]
  runs = tmp_path / "runs"
  lab_run(runs, "a", submission="adamw", times=TIMES, losses=_reaching(40.0), ruleset="self")
  lab_run(runs, "b", submission="sgd", times=TIMES, losses=_reaching(80.0), ruleset="self",
          hardware={**CPU, "host_cpu_count": 64, "host_machine": "aarch64",
                    "processor": "Neoverse-V2"})
  with pytest.raises(MixedHardwareError) as error:
    score_directories([runs], tmp_path / "out", bootstrap_samples=10)
  assert "processor=Neoverse-V2" in str(error.value) and "host_cpu_count=64" in str(error.value)
  report = score_directories([runs], tmp_path / "out", bootstrap_samples=10,
                             allow_mixed_hardware=True)
  assert report.submissions["sgd"].benchmark_score == pytest.approx(2 / 3)


@pytest.mark.parametrize("option, message", [
    ("--tau_max=inf", "--tau_max must be a finite number greater than 1"),
    ("--tau_max=nan", "--tau_max must be a finite number greater than 1"),
    ("--tau_max=1", "--tau_max must be a finite number greater than 1"),
    ("--bootstrap_samples=0", "--bootstrap_samples must be at least 1"),
    ("--bootstrap_samples=-5", "--bootstrap_samples must be at least 1"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, option, message):
  runs = tmp_path / "runs"
  _standard(runs, workloads=("lm",))
  assert cli.main(["score", str(runs), f"--out={tmp_path / 'out'}", option]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and message in err[0]


def test_out_that_is_an_existing_file_is_refused(tmp_path, capsys):
  runs = tmp_path / "runs"
  _standard(runs, workloads=("lm",))
  (tmp_path / "taken").write_text("x")
  assert cli.main(["score", str(runs), f"--out={tmp_path / 'taken'}"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "is a file, not a folder; choose another --out" in err[0]


def test_export_refusing_mixed_configs_suggests_what_export_can_do(tmp_path):
  """Issue 20: the export refusal suggested --group_by_config, which export does not take."""
  from algoperf_lab.scoring.export import export_algoperf

  runs = tmp_path / "runs"
  _standard(runs, workloads=("lm",))
  lab_run(runs, "sgd_lm_easy", submission="sgd", workload="lm", times=TIMES,
          losses=_reaching(10.0, target=5.0), target=5.0, study=1, ruleset="self")
  with pytest.raises(ScoringError, match="records differ in target_value") as info:
    export_algoperf(runs, tmp_path / "export")
  assert "--group_by_config" not in str(info.value) and "its own --out" in str(info.value)


def test_a_record_its_own_history_contradicts_is_refused_by_path(tmp_path):
  """Issue 19: a hand-edited result.json (status reached, time 0.5 s) was trusted although
  metrics.jsonl says otherwise."""
  runs = tmp_path / "runs"
  _standard(runs)
  edited = runs / "sgd_lm" / "result.json"
  record = json.loads(edited.read_text())
  assert record["time_to_target_sec"] == 80.0
  edited.write_text(json.dumps({**record, "time_to_target_sec": 0.5}))
  with pytest.raises(ScoringError, match="incomplete") as info:
    score_directories([runs], tmp_path / "out", bootstrap_samples=10)
  assert "sgd_lm" in str(info.value) and "contradicts its own history" in str(info.value)
  edited.write_text(json.dumps(record))  # restored; now a reached run edited into a miss
  missed = runs / "adamw_vit" / "result.json"
  reached = json.loads(missed.read_text())
  missed.write_text(json.dumps({**reached, "status": "missed", "reached_target": False,
                                "time_to_target_sec": None}))
  with pytest.raises(ScoringError) as info:
    score_directories([runs], tmp_path / "out", bootstrap_samples=10)
  assert "adamw_vit" in str(info.value) and "says missed" in str(info.value)


def test_an_exact_copy_of_a_record_is_refused_not_counted_as_another_study(tmp_path):
  """Issue 19: a copied run folder counted as another study."""
  import shutil

  runs = tmp_path / "runs"
  _standard(runs)
  shutil.copytree(runs / "sgd_lm", runs / "sgd_lm_copy")
  with pytest.raises(ScoringError, match="the same run is recorded twice .*sgd_lm.* and .*sgd_lm_copy"):
    score_directories([runs], tmp_path / "out", bootstrap_samples=10)


def test_an_out_folder_in_use_by_another_score_is_refused(tmp_path):
  """Issue 19: two `score` commands writing one --out both exited 0, the last writer winning."""
  from algoperf_lab.harness.workdir_lock import WorkdirLockedError, hold_workdir_lock
  from algoperf_lab.scoring.sources import ScoreRequest, score

  runs = tmp_path / "runs"
  _standard(runs)
  out = tmp_path / "out"
  with hold_workdir_lock(out, flag="--out"):  # another score holds it
    with pytest.raises(WorkdirLockedError, match="is in use by .*choose another --out"):
      score(ScoreRequest(paths=(runs,), out_dir=out, bootstrap_samples=10, progress=False))
  assert score(ScoreRequest(paths=(runs,), out_dir=out, bootstrap_samples=10,
                            progress=False)).lab is not None


def test_a_refused_score_leaves_no_new_out_folder(tmp_path):
  from algoperf_lab.scoring.sources import ScoreRequest, score

  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(ScoringError, match="nothing to score"):
    score(ScoreRequest(paths=(empty,), out_dir=tmp_path / "out", progress=False))
  assert not (tmp_path / "out").exists()


def test_score_on_the_step_clock_and_the_rank_changes_in_the_report(tmp_path, capsys):
  """Issue 19: steps beside seconds; `score --clock=steps`; rank changes in report.md.

  fast_steps takes few, slow steps (reaches at step 20, 60 s); cheap_steps many, fast ones
  (step 50, 50 s): cheap_steps wins on time, fast_steps on steps."""
  runs = tmp_path / "runs"
  lab_run(runs, "fast_steps", submission="fast_steps", times=[30.0, 60.0, 90.0],
          losses=[3.0, 1.5, 1.0], ruleset="self")
  lab_run(runs, "cheap_steps", submission="cheap_steps", times=[10.0 * i for i in range(1, 10)],
          losses=[3.0] * 4 + [1.5] * 5, ruleset="self")
  time_report = score_directories([runs], tmp_path / "time", bootstrap_samples=10)
  step_report = score_directories([runs], tmp_path / "steps", bootstrap_samples=10,
                                  clock="steps")
  assert time_report.ranked()[0].name == "cheap_steps"
  assert step_report.ranked()[0].name == "fast_steps"
  assert step_report.submissions["fast_steps"].per_workload["lm/tiny"].time_to_target_sec == 20.0
  assert "lm/tiny (steps)" in format_score_table(step_report)
  markdown = (tmp_path / "steps" / "report.md").read_text()
  assert "## Ranks on the time clock and on the step clock" in markdown
  assert "| cheap_steps | 1 (1.000) | 2 (" in markdown and "down 1" in markdown
  assert cli.main(["score", str(runs), f"--out={tmp_path / 'cli'}", "--clock=steps",
                   "--bootstrap_samples=10"]) == 0
  assert json.loads((tmp_path / "cli" / "scores.json").read_text())["clock"] == "steps"
