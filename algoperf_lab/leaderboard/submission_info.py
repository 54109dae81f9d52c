"""What the page says about a submission: family, form, docstring, and per run the command
that reproduces it and the link to its record."""

from __future__ import annotations

import ast
import json
import os
import shlex
from pathlib import Path
from typing import Any

from algoperf_lab.scoring.records import RunRecord
from algoperf_lab.sweeps.spec import SPEC_FILE  # written into every run folder by the engine
BUNDLED_ROOT = Path(__file__).resolve().parents[2] / "submissions"


def raw_result(record: RunRecord) -> dict[str, Any]:
  return json.loads((record.run_dir / "result.json").read_text())


def submission_file(result: dict[str, Any]) -> Path | None:
  """The submission's file as the record names it (relative paths from the repository root).
  A record made in another clone of the lab names that clone's file: its part from the last
  `submissions/` folder on names this lab's copy where that exists and the named file does not,
  or is the same bytes (a user's own `submissions/foo.py` with other contents stays theirs)."""
  named = result.get("submission_path")
  if not named:
    return None
  path = Path(named)
  if not path.is_absolute() and (BUNDLED_ROOT.parent / path).is_file():
    return (BUNDLED_ROOT.parent / path).resolve()
  if BUNDLED_ROOT.name in path.parts[:-1]:
    last = len(path.parts) - 1 - path.parts[::-1].index(BUNDLED_ROOT.name)
    ours = BUNDLED_ROOT.parent.joinpath(*path.parts[last:])
    if ours.is_file() and (not path.is_file() or path.samefile(ours)
                           or path.read_bytes() == ours.read_bytes()):
      return ours.resolve()
  return path.resolve() if path.is_file() else None


def shown_path(path: Path | None, result: dict[str, Any]) -> str | None:
  """The submission's file as the page names it: relative to the lab's root for a bundled one
  (a committed page names no machine's folders), else as the record names it."""
  if path is not None and path.is_relative_to(BUNDLED_ROOT.parent):
    return str(path.relative_to(BUNDLED_ROOT.parent))
  return result.get("submission_path")


def family(path: Path | None) -> str:
  """The bundled submission's folder (baselines, lr_free, sam, ...), or "user" for one outside
  the lab's submissions/."""
  if path is None:
    return "unknown"
  try:
    parts = path.relative_to(BUNDLED_ROOT).parts
  except ValueError:
    return "user"
  return parts[0] if len(parts) > 1 else "bundled"


def docstring(path: Path | None) -> str:
  """The submission module's docstring, read without importing it."""
  if path is None:
    return ""
  try:
    return ast.get_docstring(ast.parse(path.read_text())) or ""
  except (OSError, SyntaxError, ValueError):
    return ""


def reproduce_command(record: RunRecord, result: dict[str, Any]) -> str:
  """The command that re-makes this run: the sweep engine's spec where the run has one, else
  an `algoperf-lab run` with the record's seed, size and core count (a bundled submission named
  from the lab's root; hyperparameters other than the submission's defaults go in a JSON file
  named by --hparams)."""
  spec = record.run_dir / SPEC_FILE
  if spec.is_file():
    return f"algoperf-lab run-trial --spec={shlex.quote(_from_here(spec))}"
  parts = ["algoperf-lab", "run", f"--workload={record.workload}", f"--size={record.size}",
           f"--submission={shown_path(submission_file(result), result) or record.submission}",
           f"--seed={record.seed}", f"--workdir={record.run_dir}"]
  if record.hardware.get("usable_cpu_cores") == 1:
    parts.append("--cpu_cores=1")
  if record.hparams:
    parts.append("--hparams=HPARAMS.json")
  return " ".join(shlex.quote(p) for p in parts)


def _from_here(path: Path) -> str:
  """The path relative to the working directory when it lies inside it (a spec names its run
  folder relative to where the sweep ran, so its command runs from there), else absolute."""
  here, full = Path.cwd().resolve(), path.resolve()
  return str(full.relative_to(here)) if full.is_relative_to(here) else str(full)


def record_link(record: RunRecord, out_dir: Path) -> str:
  """The run folder relative to the page (so the link works from file:// and when served)."""
  return os.path.relpath(record.run_dir.resolve(), out_dir.resolve())
