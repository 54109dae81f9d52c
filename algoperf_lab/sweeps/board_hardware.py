"""A board is measured on one processor model: the study command checks before it runs.

- A board folder that already holds records made on another model is refused, with the fix
  (the scores could never put them together: `scoring.records.check_same_hardware` refuses to).
- Budgets timed on another model (configs/tiny_targets.py: this machine's own budgets from
  `time-budgets`, else the reference machine's) are warned about, with the command that times
  them here: runs made under them are comparable with each other, but a budget buys other steps
  than the target-setting runs needed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from algoperf_lab.harness.records import RESULT_FILE
from algoperf_lab.processor import processor_slug
from algoperf_lab.sweeps.spec import TrialSpec
from configs import tiny_targets


class BoardHardwareError(ValueError):
  """Running here would mix processors in a board; the message says how not to."""


def record_processors(folders: Iterable[Path]) -> Counter[str]:
  """How many finished or stopped records under `folders` each processor model made."""
  found: Counter[str] = Counter()
  for folder in folders:
    for path in sorted(Path(folder).glob(f"**/{RESULT_FILE}")):
      try:
        model = json.loads(path.read_text()).get("hardware", {}).get("processor")
      except (OSError, ValueError):
        continue
      if model:
        found[model] += 1
  return found


def check_board_folders(folders: Sequence[Path], model: str, workdir: Path) -> None:
  """Refuses when a board's folder holds records of another processor model than `model`."""
  for folder in folders:
    others = {m: n for m, n in record_processors([folder]).items() if m != model}
    if others:
      made = ", ".join(f"{n} on {m}" for m, n in sorted(others.items()))
      raise BoardHardwareError(
          f"{folder} holds runs made on another processor ({made}); this machine is {model}. "
          "CPU seconds differ between models, so runs made here could never be scored with "
          f"them. Run this board on a machine of that model, or give this machine's runs a "
          f"board of their own: --workdir={Path(workdir)}_{processor_slug(model)} (with budgets "
          "timed here: algoperf-lab time-budgets --update_configs).")


def foreign_budgets_warning(specs: Sequence[TrialSpec], model: str) -> str | None:
  """What to say when a tiny workload's budget here was timed on another processor model."""
  return foreign_budgets_note({s.workload for s in specs if s.size == "tiny"}, model)


def foreign_budgets_note(tiny_workloads: Iterable[str], model: str) -> str | None:
  """The warning for tiny workloads whose budgets here were timed on another processor model
  (None when this model's own budgets, or the reference's on the reference model, apply)."""
  foreign = {}
  for workload in sorted(set(tiny_workloads)):
    timed_on = tiny_targets.budget_processor(workload, model)
    if timed_on is not None and timed_on != model:
      foreign[workload] = timed_on
  if not foreign:
    return None
  names = ",".join(foreign)
  return (f"warning: the tiny budgets of {names} were timed on "
          f"{sorted(set(foreign.values()))[0]}; this machine is {model}, where they buy other "
          "steps than the target-setting runs needed. To time them here (about 30 min on an "
          f"idle machine): algoperf-lab time-budgets --workloads={names} --executor=processes "
          "--workers=2 --threads_per_worker=1 --update_configs")
