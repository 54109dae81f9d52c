"""scripts/finished_records.py lists exactly what the lab commits of a finished board."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "finished_records.py"


def _listed(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                        cwd=REPO_ROOT, timeout=120)


def test_a_finished_board_lists_its_committed_files():
  board = "results/leaderboard_tiny/moe"
  done = _listed(board)
  assert done.returncode == 0, done.stderr
  committed = subprocess.run(["git", "ls-files", board], capture_output=True, text=True,
                             cwd=REPO_ROOT, check=True).stdout.split()
  if not committed:  # an export without git history
    return
  assert done.stdout.split() == sorted(committed)
  assert len(committed) >= 20 * 6 and not any("checkpoints" in p for p in committed)


def test_an_unfinished_run_and_its_checkpoints_are_left_out(tmp_path):
  run = tmp_path / "w" / "sub" / "study_0" / "trial_0"
  (run / "checkpoints" / "12").mkdir(parents=True)
  (run / "checkpoints" / "12" / "state").write_text("x")
  (run / ".algoperf_lab.lock").write_text("")
  (run / "metrics.jsonl").write_text("{}\n")
  (run / "result.json").write_text('{"status": "preempted"}')
  (run.parent / "trial_0.abc.spec.json").write_text("{}")
  assert _listed(str(tmp_path)).stdout == ""
  (run / "result.json").write_text('{"status": "missed"}')
  listed = _listed(str(tmp_path)).stdout.split()
  assert [p.removeprefix(str(tmp_path) + "/") for p in listed] == [
      "w/sub/study_0/trial_0.abc.spec.json", "w/sub/study_0/trial_0/metrics.jsonl",
      "w/sub/study_0/trial_0/result.json"]
  assert _listed(str(tmp_path / "nowhere")).returncode == 2
