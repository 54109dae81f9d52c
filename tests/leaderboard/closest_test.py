"""How close each study came (leaderboard.closest), on records the lab's harness made."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from algoperf_lab.leaderboard import closest, markdown, model
from algoperf_lab.scoring.records import load_records, read_curve
from algoperf_lab.scoring.time_to_target import collect_studies
from tests.helpers import REPO_ROOT

MOE = REPO_ROOT / "results" / "leaderboard_tiny" / "moe"  # 4 rules x 5 studies, all missed
TUNING = REPO_ROOT / "results" / "target_setting_tiny" / "lm" / "tuning"  # 2-3 trials per study


def _best_from_metrics(run_dir: Path, metric: str, budget: float, lower: bool) -> float:
  lines = (run_dir / "metrics.jsonl").read_text().splitlines()
  values = [e[metric] for e in map(json.loads, filter(str.strip, lines))
            if metric in e and e["submission_time_sec"] <= budget]
  return min(values) if lower else max(values)


def _closest(root: Path) -> tuple[dict, list]:
  records, _ = load_records([root])
  studies, _ = collect_studies(records)
  curves = {str(r.run_dir): read_curve(r.run_dir, r.target_metric) for s in studies for r in s.runs}
  return closest.closest(studies, curves), studies


def test_a_self_tuning_study_s_best_is_its_run_s_best_eval():
  table, studies = _closest(MOE)
  assert len(studies) == 20 and set(table) == {"lm_moe/tiny"}
  for name, cell in table["lm_moe/tiny"].items():
    values = [_best_from_metrics(s.runs[0].run_dir, s.runs[0].target_metric,
                                 s.runs[0].max_allowed_runtime_sec, True)
              for s in studies if s.submission == name]
    assert cell == {"median": statistics.median(values), "low": min(values),
                    "high": max(values), "n": 5}, name
  # every study missed lm_moe's target: its best is worse (higher) than the target
  assert all(cell["low"] > studies[0].best.target_value for cell in table["lm_moe/tiny"].values())


def test_an_externally_tuned_study_s_best_is_the_best_of_its_trials():
  table, studies = _closest(TUNING)
  for study in studies:
    assert len(study.runs) >= 2
    trial_bests = [_best_from_metrics(r.run_dir, r.target_metric, r.max_allowed_runtime_sec
                                      or float("inf"), r.target_direction == "lower")
                   for r in study.runs]
    cell = table[study.workload][study.submission]
    assert cell["n"] == 1 and cell["median"] == min(trial_bests) < max(trial_bests)


def test_the_table_shows_how_close_a_miss_came(tmp_path):
  data = model.build([MOE], tmp_path, bootstrap_samples=50)
  text = markdown.leaderboard_table(data)
  none = data["closest"]["lm_moe/tiny"]["adamw_none"]
  assert (f"| miss (0/5), best {none['median']:#.4g} ({none['low']:#.4g}–{none['high']:#.4g}) |"
          in text)


def test_a_run_without_a_finite_eval_in_its_budget_has_no_best():
  records, _ = load_records([MOE])
  record = records[0]
  empty = closest.RunCurve(record, read_curve(record.run_dir / "nowhere", record.target_metric))
  assert closest.run_best(empty) is None
  full = closest.RunCurve(record, read_curve(record.run_dir, record.target_metric))
  assert closest.run_best(full) == pytest.approx(_best_from_metrics(
      record.run_dir, record.target_metric, record.max_allowed_runtime_sec, True))


def test_one_study_s_best_is_shown_without_a_range():
  one = {"median": 2.7413, "low": 2.7413, "high": 2.7413, "n": 1}
  assert markdown._best(one) == ", best 2.741"
  assert markdown._best({"median": 0.159, "low": 0.1553, "high": 0.1596, "n": 5}) == (
      ", best 0.1590 (0.1553–0.1596)")
  assert markdown._best(None) == markdown._best({"median": None, "n": 0}) == ""
