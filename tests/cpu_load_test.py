"""scripts/cpu_load.py starts a bounded competing load and stops by itself."""

from __future__ import annotations

import subprocess
import time

from tests.helpers import REPO_ROOT


def test_the_load_runs_busy_processes_and_ends_on_its_own():
  start = time.monotonic()
  done = subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "python"), "scripts/cpu_load.py",
                         "--processes=1", "--seconds=1.5"], cwd=REPO_ROOT, capture_output=True,
                        text=True, timeout=120)
  assert done.returncode == 0 and "1 busy process(es) for 1.5 s" in done.stderr
  assert time.monotonic() - start >= 1.5


def test_an_unbounded_load_is_refused():
  done = subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "python"), "scripts/cpu_load.py",
                         "--seconds=0"], cwd=REPO_ROOT, capture_output=True, text=True,
                        timeout=60)
  assert done.returncode == 2 and "--seconds" in done.stderr
