"""Candidate configurations of one submission: its literature default, then points of a space.

Candidate 0 is always the submission's own HPARAMS (the literature default). Candidates 1..n−1
come from its candidate space, `configs/calibration/<stem>.json` (or a folder given by the
user): an AlgoPerf-format search space, drawn as scrambled Halton points with a fixed seed, or
a list of points used in order. Each candidate is the default with the drawn values on top, so
every candidate names every hyperparameter and can be passed to `run --hparams` as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from algoperf_lab.tuning import halton, search_space

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPACES_DIR = REPO_ROOT / "configs" / "calibration"
CANDIDATE_SEED = 0  # the Halton draw's seed: the same candidates in every process


class CalibrationError(ValueError):
  """A calibration request is inconsistent; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class Candidate:
  method: str  # the submission's file stem
  index: int
  hparams: Mapping[str, Any]  # every hyperparameter: the default with the drawn values on top

  @property
  def is_default(self) -> bool:
    return self.index == 0


def space_path(method: str, spaces_dir: Path) -> Path:
  return Path(spaces_dir) / f"{method}.json"


def make_candidates(method: str, defaults: Mapping[str, Any], num_candidates: int,
                    spaces_dir: Path) -> list[Candidate]:
  """The default, then num_candidates − 1 points of the method's candidate space."""
  if num_candidates < 1:
    raise CalibrationError("--candidates must be at least 1 (candidate 0 is the default).")
  candidates = [Candidate(method, 0, dict(defaults))]
  if num_candidates == 1:
    return candidates
  path = space_path(method, spaces_dir)
  if not path.is_file():
    raise CalibrationError(f"{method} has no candidate space at {path}; write one (an AlgoPerf "
                           "search space over its non-learning-rate hyperparameters) or pass "
                           "--candidates=1.")
  space = search_space.load_search_space(path)
  search_space.check_known_hparams(space, set(defaults), str(path))
  drawn = halton.sample_trials(space, num_candidates - 1, seed=CANDIDATE_SEED,
                               float_names=search_space.float_hparams(defaults))
  candidates += [Candidate(method, i, {**defaults, **values})
                 for i, values in enumerate(drawn, start=1)]
  return candidates


def changed_hparams(candidate: Candidate, default: Candidate) -> dict[str, Any]:
  """The hyperparameters where a candidate differs from the default."""
  return {k: v for k, v in candidate.hparams.items() if default.hparams.get(k) != v}
