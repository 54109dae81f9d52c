"""Rewrites the trial specs under ROOT... to name their submission as specs now do.

Specs made before `sweeps.spec.portable_path` named a submission by its absolute path (e.g.
/work/main/submissions/baselines/adamw.py), so a clone of the lab at another path hashed every
finished trial differently (the sweep then re-checked each one in a worker) and its reproducing
command (`algoperf-lab run-trial --spec=...`) pointed at a file that clone lacks. Run from the
lab's root, this names such a submission relative to it, as a spec made there now does, stores
the new hash, and renames each submitted spec (`<run>.<hash>.spec.json`) to it. Nothing else in
a spec or a record changes; a spec whose stored hash is not its contents' is refused (named, and
left as it is). Prints what it changed; a second run changes nothing.

    python scripts/portable_specs.py results/leaderboard_tiny
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from algoperf_lab.sweeps.spec import (SPEC_FILE, TrialSpec, portable_path, read_spec, spec_hash,
                                     submitted_spec_name, write_spec)


@dataclasses.dataclass(frozen=True)
class Change:
  old: Path
  new: Path
  spec: TrialSpec  # the spec as the new file holds it


def plan(path: Path) -> Change | None:
  """What rewriting one spec file changes (None: it is portable already)."""
  stored = json.loads(path.read_text()).get("spec_hash")
  spec = read_spec(path)
  if stored != spec_hash(spec):
    raise ValueError(f"{path}: its stored hash {stored} is not its contents' ({spec_hash(spec)}); "
                     "left as it is (was it edited by hand?)")
  portable = portable_path(spec.submission)
  if portable == spec.submission:
    return None
  moved = dataclasses.replace(spec, submission=portable)
  if path.name == SPEC_FILE:  # the run folder's own spec.json keeps its name
    return Change(path, path, moved)
  run_name = path.name.split(".")[0]  # <run>.<hash>.spec.json beside the run folder
  return Change(path, path.with_name(submitted_spec_name(run_name, spec_hash(moved))), moved)


def apply(change: Change) -> None:
  write_spec(change.spec, change.new)
  if change.new != change.old:
    change.old.unlink()


def spec_files(roots: list[Path]) -> list[Path]:
  return sorted(p for root in roots for p in root.rglob("*spec.json") if p.is_file())


def main(argv: list[str]) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("roots", nargs="+", type=Path, help="folders holding trial specs")
  roots = parser.parse_args(argv).roots
  missing = [str(r) for r in roots if not r.is_dir()]
  if missing:
    print(f"no such folder(s): {', '.join(missing)}", file=sys.stderr)
    return 2
  changes, refused = [], []
  for path in spec_files(roots):
    try:
      change = plan(path)
    except (ValueError, json.JSONDecodeError) as error:
      refused.append(str(error))
      continue
    if change is not None:
      changes.append(change)
  for change in changes:
    apply(change)
    print(f"{change.old} -> {change.new.name}" if change.new != change.old else str(change.old))
  print(f"{len(changes)} spec(s) rewritten, {len(refused)} refused", file=sys.stderr)
  for line in refused:
    print(line, file=sys.stderr)
  return 1 if refused else 0


if __name__ == "__main__":
  raise SystemExit(main(sys.argv[1:]))
