"""Lists the files of every finished run below the given folders, to commit them.

A finished run (result.json status reached, missed or diverged) is kept whole except its
checkpoints/ and its lock file, together with the sweep engine's spec beside it
(trial_<j>.<hash>.spec.json). Running, preempted, failed and capped runs are left out: a
sweep finishes or resumes them. One path per line, relative to the working directory:

    python scripts/finished_records.py results/leaderboard_tiny | xargs git add --
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from algoperf_lab.harness.records import RESULT_FILE
from algoperf_lab.harness.resume import CHECKPOINT_DIR
from algoperf_lab.harness.workdir_lock import LOCK_FILE
from algoperf_lab.sweeps.engine import FINISHED as ENGINE_FINISHED
from algoperf_lab.sweeps.spec import submitted_spec_name

# What the engine counts as finished, less "capped" (a --max_steps debugging stop, not a record
# the lab keeps).
FINISHED = tuple(status for status in ENGINE_FINISHED if status != "capped")
LEFT_OUT = (CHECKPOINT_DIR, LOCK_FILE)


def is_finished(result_file: Path) -> bool:
  try:
    return json.loads(result_file.read_text()).get("status") in FINISHED
  except (OSError, ValueError):
    return False  # unreadable or half-written: not finished


def run_files(run_dir: Path) -> Iterator[Path]:
  """The run's own files (no checkpoints, no lock) and the spec files beside it."""
  for path in sorted(run_dir.rglob("*")):
    if path.is_file() and not set(path.relative_to(run_dir).parts) & set(LEFT_OUT):
      yield path
  yield from sorted(run_dir.parent.glob(submitted_spec_name(run_dir.name, "*")))


def finished_files(roots: list[Path]) -> list[Path]:
  found = {path for root in roots for result in root.rglob(RESULT_FILE)
           if CHECKPOINT_DIR not in result.parts and is_finished(result)
           for path in run_files(result.parent)}
  return sorted(found, key=str)  # as git lists them


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("roots", nargs="+", type=Path, help="folders of run records")
  args = parser.parse_args(argv)
  missing = [str(r) for r in args.roots if not r.is_dir()]
  if missing:
    print(f"finished_records: no such folder: {', '.join(missing)}", file=sys.stderr)
    return 2
  for path in finished_files(args.roots):
    print(path)
  return 0


if __name__ == "__main__":
  sys.exit(main())
