"""`algoperf-lab calibrate`: killed mid-way (a subset run first) and rerun, it finishes the
same table, reusing the finished runs; a diverging candidate is recorded and calibration goes on."""

from __future__ import annotations

import json
from pathlib import Path

from algoperf_lab import cli
from tests.helpers import REPO_ROOT, SMALL_LM_OVERRIDES

PRODIGY = str(REPO_ROOT / "submissions" / "lr_free" / "prodigy.py")
SF = str(REPO_ROOT / "submissions" / "lr_free" / "schedule_free_adamw.py")


def _calibrate(workdir: Path, *extra: str) -> int:
  return cli.main(["calibrate", f"--workdir={workdir}", "--workloads=lm", f"--submissions={PRODIGY}",
                   "--candidates=2", "--seeds=1", "--config.targets.max_allowed_cpu_sec=1.0", "--eval_every_steps=2",
                   "--no_progress", *extra, *SMALL_LM_OVERRIDES])


def _table(workdir: Path) -> str:
  return (workdir / "report" / "report.md").read_text()


def test_a_killed_calibration_resumes_to_the_same_table(tmp_path):
  resumed, fresh = tmp_path / "resumed", tmp_path / "fresh"
  assert _calibrate(resumed, "--method=prodigy", "--candidate=1", "--workload=lm",
                    "--seed_index=0") == 0
  first = resumed / "prodigy" / "candidate_1" / "lm" / "study_0" / "trial_0" / "result.json"
  before = first.read_text()
  assert not (resumed / "report").exists()  # not scored until every run is finished
  assert _calibrate(resumed) == 0
  assert first.read_text() == before  # the finished run was skipped, not redone
  assert _calibrate(fresh) == 0
  assert _table(resumed) == _table(fresh)
  chosen = json.loads((resumed / "report" / "calibrated_prodigy.json").read_text())
  assert set(chosen) == set(json.loads((resumed / "prodigy" / "candidate_0" /
                                        "candidate.json").read_text())[0])


def test_a_diverging_candidate_is_recorded_and_calibration_goes_on(tmp_path):
  spaces = tmp_path / "spaces"
  spaces.mkdir()
  (spaces / "schedule_free_adamw.json").write_text(json.dumps([{"learning_rate": 1e30}]))
  (spaces / "nadamw_optax.json").write_text(json.dumps([{"weight_decay": 0.1}]))
  workdir = tmp_path / "work"
  assert cli.main(["calibrate", f"--workdir={workdir}", "--workloads=lm", f"--submissions={SF}",
                   f"--spaces_dir={spaces}", "--candidates=2", "--seeds=1", "--config.targets.max_allowed_cpu_sec=1.0",
                   "--eval_every_steps=2", "--no_progress", *SMALL_LM_OVERRIDES]) == 0
  result = json.loads((workdir / "schedule_free_adamw" / "candidate_1" / "lm" / "study_0" /
                       "trial_0" / "result.json").read_text())
  assert result["status"] == "diverged"
  assert "| schedule_free_adamw/1 | 0.000 | 1/1 |" in _table(workdir)
