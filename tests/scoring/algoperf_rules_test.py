"""AlgoPerf's rules on AlgoPerf-format logs built here: eval-index rule, held-out and 4x cuts,
the 100-point trapezoid, malformed logs, and the targets files."""

import math
import re

import numpy as np
import pytest

from algoperf_lab import cli
from algoperf_lab.scoring.algoperf_targets import bundled_targets, load_targets
from algoperf_lab.scoring.profiles import benchmark_score
from algoperf_lab.scoring.records import ScoringError
from algoperf_lab.scoring.sources import ScoreRequest, score
from tests.scoring.factories import algoperf_trial, targets_file


def _score(tmp_path, logs, targets, ruleset="external"):
  return score(ScoreRequest(paths=(logs,), out_dir=tmp_path / "out", algoperf_targets=targets,
                            ruleset=ruleset, progress=False)).algoperf


def test_best_trial_is_the_earliest_eval_index_not_the_earliest_time(tmp_path):
  logs = tmp_path / "logs"
  # External tuning, 5 trials in the study. Trial 2 evaluates rarely and meets the target at
  # eval index 1 (t = 300 s); trial 4 evaluates often and meets it at index 3 (t = 200 s).
  trials = {1: ([100.0, 200.0], [3.0, 2.0]), 2: ([100.0, 300.0], [2.0, 0.9]),
            3: ([60.0, 120.0, 180.0], [3.0, 3.0, 3.0]),
            4: ([50.0, 100.0, 150.0, 200.0], [2.0, 2.0, 2.0, 0.8]), 5: ([400.0], [5.0])}
  for trial, (times, values) in trials.items():
    algoperf_trial(logs, "sub", 0, "w", trial, times, values)
  report = _score(tmp_path, logs, targets_file(tmp_path / "t.json", ["w"]))
  (study,) = report.studies
  assert len(study.trials) == 5 and not any("expects" in w for w in report.warnings)
  assert (study.best.location.trial, study.eval_index, study.time_sec) == (2, 1, 300.0)
  earliest_time = min(t for times, values in trials.values()
                      for t, v in zip(times, values) if v <= 1.0)
  assert earliest_time == 200.0  # what the time rule would pick; AlgoPerf's rule does not
  assert report.table.median_times["sub"]["w"] == 300.0


def _reach(root, sub, workload, time, study=0, reached=True):
  algoperf_trial(root, sub, study, workload, 1, [time / 2, time], [2.0, 0.5 if reached else 1.5],
                 ruleset="self")


def test_held_out_and_four_x_rules_in_algoperf_order(tmp_path):
  logs = tmp_path / "logs"
  targets = targets_file(tmp_path / "t.json", ["a", "b"], held_out=["a_var"])
  for sub, workload, time, reached in [
      ("x", "a", 100, True), ("x", "b", 100, True), ("x", "a_var", 100, True),
      ("y", "a", 90, True), ("y", "b", 500, True), ("y", "a_var", 10, False),
      ("z", "a", 120, True), ("z", "b", 230, True), ("z", "a_var", 450, True),
      ("w", "a", 50, False), ("w", "b", 70, False), ("w", "a_var", 100, True)]:
    _reach(logs, sub, workload, time, reached=reached)
  report = _score(tmp_path, logs, targets, ruleset="self")
  final, notes = report.table.final_times, report.table.notes
  # y is fastest on a, but its variant missed, so a is a miss for y, and x becomes the fastest.
  assert "held-out variant a_var missed" in notes[("y", "a")]
  assert "over 4x" in notes[("y", "b")] and math.isinf(final["y"]["b"])   # 500 > 4 * 100
  assert "over 4x" in notes[("z", "a_var")]                                # 450 > 4 * 100
  assert "held-out variant a_var missed" in notes[("z", "a")]
  assert "base workload a missed" in notes[("w", "a_var")]
  assert report.table.ratios["x"] == {"a": 1.0, "b": 1.0}
  assert report.table.ratios["z"]["b"] == pytest.approx(2.3)
  scores = report.table.scores
  assert scores["x"] == pytest.approx(1.0) and scores["y"] == scores["w"] == 0.0
  # z: one of two base workloads with r = 2.3. rho is 1/2 from the first grid point >= 2.3,
  # tau_43 = 1 + 3 * 43 / 99, and the trapezoid adds half a step on the interval before it.
  step = 3 / 99
  by_hand = 0.5 * ((4.0 - (1 + 43 * step)) + step / 2) / 3.0
  assert scores["z"] == pytest.approx(by_hand, abs=1e-12)
  assert abs(scores["z"] - benchmark_score([2.3, math.inf])) > 1e-3   # not the exact integral


def test_missing_submission_workload_counts_as_a_miss_and_denominator_is_all_base(tmp_path):
  logs = tmp_path / "logs"
  targets = targets_file(tmp_path / "t.json", ["a", "b", "c", "d"])
  _reach(logs, "only_a", "a", 100)
  for workload in ("b", "c", "d"):  # someone has logs for each base workload
    _reach(logs, "no_a", workload, 100)
  report = _score(tmp_path, logs, targets, ruleset="self")
  assert report.table.scores == {"only_a": pytest.approx(0.25), "no_a": pytest.approx(0.75)}


def test_a_base_workload_without_logs_from_anyone_is_left_out_with_a_note(tmp_path):
  """Issue 19: it counted as a miss for everyone (v0.5 logs against v0.6 targets)."""
  logs = tmp_path / "logs"
  targets = targets_file(tmp_path / "t.json", ["a", "b", "c", "d"])
  _reach(logs, "only_a", "a", 100)
  report = _score(tmp_path, logs, targets, ruleset="self")
  assert report.table.scores == {"only_a": pytest.approx(1.0)}
  assert report.table.base_workloads == ("a",)
  assert sum("no submission has logs for base workload" in w for w in report.warnings) == 3


def test_malformed_logs_are_skipped_one_line_each(tmp_path, capsys):
  logs = tmp_path / "logs"
  targets = targets_file(tmp_path / "t.json", ["w"])
  algoperf_trial(logs, "good", 0, "w", 1, [10.0, 20.0], [2.0, 0.5])
  truncated = algoperf_trial(logs, "bad", 0, "w", 1, [10.0, 20.0], [2.0, 0.5])
  csv = truncated / "eval_measurements.csv"
  csv.write_text(csv.read_text() + "30.0,300\n")
  no_column = algoperf_trial(logs, "bad", 1, "w", 1, [10.0], [0.5], metric="validation/ppl")
  unknown = algoperf_trial(logs, "bad", 2, "zzz", 1, [10.0], [0.5])
  cut_short = algoperf_trial(logs, "bad", 3, "w", 1, [10.0, 20.0], [2.0, 0.5])
  (cut_short / "eval_measurements.csv").write_text(
      (cut_short / "eval_measurements.csv").read_text()[:-3])
  not_number = algoperf_trial(logs, "bad", 4, "w", 1, [10.0], [0.5])
  (not_number / "eval_measurements.csv").write_text(
      "accumulated_submission_time,global_step,score,validation/loss\n10.0,1,ten,0.5\n")
  assert cli.main(["score", str(logs), f"--algoperf_targets={targets}",
                   f"--out={tmp_path / 'out'}", "--no_progress"]) == 0
  err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("skipped ")]
  expected = {truncated: "truncated csv: line 4 has 2 of 4 fields",
              no_column: "missing column validation/loss",
              unknown: "workload 'zzz' has no target",
              cut_short: "truncated csv: the last line has no line end",
              not_number: "'ten' is not a number"}
  assert len(err) == len(expected)
  for folder, reason in expected.items():
    assert sum(str(folder / "eval_measurements.csv") in line and reason in line
               for line in err) == 1, reason


def test_targets_files(tmp_path):
  v06 = bundled_targets("0.6")
  assert "finewebedu_lm" in v06.base_workloads and v06.held_out_workloads == ()
  assert v06.workloads["finewebedu_lm"].direction == "lower"
  v05 = bundled_targets("0.5")
  assert len(v05.base_workloads) == 8 and len(v05.held_out_workloads) == 6
  assert v05.workloads["wmt"].direction == "higher" and v05.workloads["wmt"].value == 30.8491
  assert v05.base_of("imagenet_resnet_large_bn_init") == "imagenet_resnet"
  with pytest.raises(ScoringError, match="unknown AlgoPerf version"):
    bundled_targets("0.4")
  broken = tmp_path / "broken.json"
  broken.write_text('{"base_workloads": ["w"], "held_out_workloads": [], "workloads": {}}')
  with pytest.raises(ScoringError, match="without a target: w"):
    load_targets(broken)
  odd = targets_file(tmp_path / "odd.json", ["w"], metric="bits_per_byte")
  with pytest.raises(ScoringError, match="target_directions"):
    load_targets(odd)


def test_logs_need_targets(tmp_path):
  logs = tmp_path / "logs"
  algoperf_trial(logs, "s", 0, "w", 1, [10.0], [0.5])
  with pytest.raises(ScoringError, match=re.escape("--algoperf_version=0.5|0.6")):
    score(ScoreRequest(paths=(logs,), out_dir=tmp_path / "out", progress=False))


def test_trapezoid_matches_numpy_on_random_ratios():
  from algoperf_lab.scoring.algoperf_rules import trapezoid_score
  rng = np.random.default_rng(0)
  ratios = np.where(rng.random(8) < 0.3, np.inf, 1 + 4 * rng.random(8))
  taus = np.linspace(1, 4, 100)
  rho = [(ratios <= t).sum() / 8 for t in taus]
  assert trapezoid_score(list(ratios), 8, 4.0) == pytest.approx(np.trapezoid(rho, taus) / 3)
