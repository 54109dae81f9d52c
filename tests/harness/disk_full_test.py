"""Issue 20: a disk that fills during a checkpoint prints one line, not orbax's ~700."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from algoperf_lab import disk_full_logs
from tests.helpers import REPO_ROOT


def _record(message: str, error: BaseException | None = None) -> logging.LogRecord:
  return logging.LogRecord("absl", logging.ERROR, __file__, 1, message, None,
                           (type(error), error, None) if error else None)


def test_the_filter_drops_only_disk_full_records():
  keep = disk_full_logs.DiskFullFilter().filter
  assert not keep(_record("save failed", ValueError("RESOURCE_EXHAUSTED: Error writing x")))
  assert not keep(_record("[Errno 28] No space left on device: '/w/checkpoints/3'"))
  assert keep(_record("save failed", ValueError("PERMISSION_DENIED: /w")))
  assert keep(_record("an unrelated orbax warning"))


@pytest.fixture
def tiny_disk(tmp_path):
  mount_point = tmp_path / "disk"
  mount_point.mkdir()
  mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2M", "tmpfs", str(mount_point)],
                           capture_output=True, text=True)
  if mounted.returncode != 0:
    pytest.skip(f"cannot mount a 2 MB tmpfs here ({mounted.stderr.strip()}); needs root")
  yield mount_point
  subprocess.run(["umount", str(mount_point)], check=False)


def test_a_full_disk_during_a_checkpoint_is_one_line_and_the_record_says_why(tiny_disk):
  workdir = tiny_disk / "run"
  done = subprocess.run(
      [str(REPO_ROOT / ".venv" / "bin" / "algoperf-lab"), "run", "--workload=gnn",
       "--submission=submissions/baselines/adamw.py", f"--workdir={workdir}", "--max_steps=3",
       "--eval_every_steps=3", "--no_progress", "--checkpoint_every_sec=0.0001"],
      capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
  assert done.returncode == 2
  assert done.stderr.strip().splitlines() == [
      f"algoperf-lab run: error: no space left on the device; free space on the disk holding "
      f"{workdir} (or choose another --workdir) and run the same command again: an unfinished "
      "run resumes from its last good checkpoint."], done.stderr[-3000:]
