"""Every submission in submissions/schedules/: its defaults lie in its search space, and it builds
and takes two steps on a very small LM through `algoperf-lab run`."""

from __future__ import annotations

import importlib
import json
import math

import pytest

from algoperf_lab import cli
from algoperf_lab.tuning import search_space
from tests.helpers import REPO_ROOT, SMALL_LM_OVERRIDES

SCHEDULE_SUBMISSIONS = sorted(p for p in (REPO_ROOT / "submissions" / "schedules").glob("*.py")
                              if not p.name.startswith("_"))
SEARCH_SPACES = REPO_ROOT / "configs" / "search_spaces"


def _contains(param: search_space.Param, value: object) -> bool:
  if isinstance(param, search_space.DiscreteParam):
    return value in param.feasible_points
  return isinstance(value, (int, float)) and param.min <= value <= param.max


@pytest.mark.parametrize("path", SCHEDULE_SUBMISSIONS, ids=lambda p: p.stem)
def test_defaults_lie_in_the_search_space(path):
  module = importlib.import_module(f"submissions.schedules.{path.stem}")
  assert module.__doc__ and module.__doc__.splitlines()[0].strip()  # the listing's description
  space = search_space.load_search_space(SEARCH_SPACES / f"{path.stem}.json")
  assert set(space.names) == set(module.HPARAMS)
  outside = {p.name: module.HPARAMS[p.name] for p in space.params
             if not _contains(p, module.HPARAMS[p.name])}
  assert not outside


@pytest.mark.parametrize("path", SCHEDULE_SUBMISSIONS, ids=lambda p: p.stem)
def test_takes_two_steps_on_a_small_lm(tmp_path, path):
  workdir = tmp_path / "run"
  assert cli.main(["run", "--workload=lm", "--size=tiny", f"--submission={path}",
                   f"--workdir={workdir}", "--max_steps=2", "--eval_every_steps=2",
                   "--no_progress", *SMALL_LM_OVERRIDES]) == 0
  record = json.loads((workdir / "result.json").read_text())
  assert record["steps"] == 2 and record["status"] == "capped"
  (line,) = [json.loads(text) for text in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert line["step"] == 2 and math.isfinite(line["validation/loss"])
