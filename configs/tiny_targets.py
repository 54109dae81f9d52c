"""Reads `configs/tiny_targets.json`, the targets `algoperf-lab set-targets --update_configs`
wrote, into a tiny config's `targets` (workloads it has no entry for keep their values).

`set-targets` itself runs with the file ignored (`ignored()`), so the procedure never reads its
own output and a re-run after `--update_configs` reuses its finished runs.
"""

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import ml_collections

TARGETS_FILE = Path(__file__).resolve().parent / "tiny_targets.json"
# Set by `ignored()` so that worker processes a sweep starts (run-trial) ignore the file too.
IGNORE_ENV = "ALGOPERF_LAB_IGNORE_TINY_TARGETS"
_ignored = False


def apply(config: ml_collections.ConfigDict, workload: str) -> ml_collections.ConfigDict:
  if TARGETS_FILE.is_file() and not _ignored and not os.environ.get(IGNORE_ENV):
    entry = json.loads(TARGETS_FILE.read_text()).get(workload)
    if entry is not None:
      config.targets.update(entry)
  return config


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
