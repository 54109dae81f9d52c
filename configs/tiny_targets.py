"""Reads `configs/tiny_targets.json`, the targets `algoperf-lab set-targets --update_configs`
wrote, into a tiny config's `targets` (workloads it has no entry for keep their values); on a
machine whose processor has budgets of its own in `configs/tiny_budgets.json` (written by
`algoperf-lab time-budgets --update_configs`), those budgets replace the reference machine's.

`set-targets` itself runs with the file ignored (`ignored()`), so the procedure never reads its
own output and a re-run after `--update_configs` reuses its finished runs.
"""

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import ml_collections

from algoperf_lab.processor import processor_model, processor_slug

TARGETS_FILE = Path(__file__).resolve().parent / "tiny_targets.json"
BUDGETS_FILE = Path(__file__).resolve().parent / "tiny_budgets.json"
BUDGETS_ABOUT = (
    "CPU-clock budgets per processor model (slug: algoperf_lab/processor.py), written by "
    "`algoperf-lab time-budgets --update_configs`: set-targets' timing runs re-run on that "
    "model. `reference` is the model tiny_targets.json's budgets were timed on; a machine of "
    "another model without an entry here runs under the reference budgets, and its records "
    "are not comparable with the reference machine's.")
# Set by `ignored()` so that worker processes a sweep starts (run-trial) ignore the file too.
IGNORE_ENV = "ALGOPERF_LAB_IGNORE_TINY_TARGETS"
_ignored = False


def apply(config: ml_collections.ConfigDict, workload: str) -> ml_collections.ConfigDict:
  if TARGETS_FILE.is_file() and not _ignored and not os.environ.get(IGNORE_ENV):
    entry = json.loads(TARGETS_FILE.read_text()).get(workload)
    if entry is not None:
      config.targets.update(entry)
    own = this_machine_budgets(workload)
    if own is not None:
      config.targets.update(own)
  return config


def _machines() -> dict:
  return json.loads(BUDGETS_FILE.read_text()) if BUDGETS_FILE.is_file() else {}


def this_machine_budgets(workload: str, model: str | None = None) -> dict | None:
  """The budgets timed on this machine's processor model (or `model`) for `workload`, if any."""
  slug = processor_slug(model or processor_model())
  return _machines().get("machines", {}).get(slug, {}).get("workloads", {}).get(workload)


def budget_processor(workload: str, model: str | None = None) -> str | None:
  """The processor model whose timing runs set the budget a run of `workload` gets on a
  machine of `model` (this one by default): its own when timed, else the reference's (None
  when the reference is not on file)."""
  model = model or processor_model()
  if this_machine_budgets(workload, model) is not None:
    return model
  return _machines().get("reference", {}).get("processor")


@contextlib.contextmanager
def ignored() -> Iterator[None]:
  """Configs built inside, here and in the processes started meanwhile, are those before any
  set-targets output."""
  global _ignored
  before, _ignored = _ignored, True
  env_before = os.environ.get(IGNORE_ENV)
  os.environ[IGNORE_ENV] = "1"
  try:
    yield
  finally:
    _ignored = before
    if env_before is None:
      os.environ.pop(IGNORE_ENV, None)
    else:
      os.environ[IGNORE_ENV] = env_before
