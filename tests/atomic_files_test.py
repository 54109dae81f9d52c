"""Outputs are whole or absent, and follow the umask (issue 20: they were written 0600)."""

from __future__ import annotations

import os
import stat

import pytest

from algoperf_lab.atomic_files import replaced_atomically, write_text_atomically
from algoperf_lab.harness.records import write_json_atomically


@pytest.fixture
def umask_022():
  previous = os.umask(0o022)
  yield
  os.umask(previous)


def _mode(path) -> int:
  return stat.S_IMODE(path.stat().st_mode)


def test_written_files_follow_the_umask(tmp_path, umask_022):
  write_text_atomically(tmp_path / "report.md", "x\n")
  write_json_atomically(tmp_path / "result.json", {"status": "reached"})
  assert _mode(tmp_path / "report.md") == 0o644
  assert _mode(tmp_path / "result.json") == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
  target = tmp_path / "performance_profile.png"
  target.write_bytes(b"old")
  with pytest.raises(OSError):
    with replaced_atomically(target) as temporary:
      assert temporary.suffix == ".png"  # matplotlib infers the format from it
      temporary.write_bytes(b"half")
      raise OSError(28, "No space left on device")
  assert target.read_bytes() == b"old"
  assert sorted(p.name for p in tmp_path.iterdir()) == ["performance_profile.png"]
