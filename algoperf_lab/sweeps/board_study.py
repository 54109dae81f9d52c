"""Studies of several boards under AlgoPerf's rulesets: the leaderboard's declarative config.

A board study config (`configs/studies/leaderboard_tiny.py`) is a study config with `boards`:

    name, size, seed (the tuning seed every board derives its study/trial seeds from),
    compilation_cache (default False: every run compiles from scratch and pays for it, as each
    AlgoPerf run does, not less because an earlier run of the same program filled JAX's
    persistent cache; True lets runs load what earlier ones compiled),
    boards: {board: {ruleset: "self" | "external", studies, trials (external), workloads,
             submissions: {name: file}, search_spaces: {name: file} (external),
             baseline: a submission's name (optional: the page's paired comparisons)}}

Each board is scored on its own (a board's submissions all run on its workloads: a submission
missing a workload would count as a miss). Every (board, workload, submission) is a `tune`
request whose trials land in WORKDIR/<board>/<workload>/<submission>/study_<i>/trial_<j>; all of
them are one sweep on any executor, and a re-run runs only what is missing.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from algoperf_lab.tuning import study as tuning
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.sweeps.spec import TrialSpec
from algoperf_lab.sweeps.study_config import REPO_ROOT, StudyConfigError

BOARD_KEYS = {"ruleset", "studies", "trials", "workloads", "submissions", "search_spaces",
              "baseline"}


@dataclasses.dataclass(frozen=True)
class Board:
  name: str
  ruleset: tuning.Ruleset
  studies: int
  trials: int
  workloads: tuple[str, ...]
  submissions: Mapping[str, str]
  search_spaces: Mapping[str, str]
  baseline: str | None = None  # the submission the page compares the others with, seed by seed


@dataclasses.dataclass(frozen=True)
class BoardStudy:
  name: str
  size: str
  seed: int
  boards: tuple[Board, ...]
  compilation_cache: bool = False


def is_board_study(data: Mapping[str, Any]) -> bool:
  return "boards" in data


def _resolve(path: str) -> str:
  candidate = Path(path)
  return str(candidate if candidate.is_absolute() else REPO_ROOT / candidate)


def _board(source: str, name: str, data: Mapping[str, Any]) -> Board:
  where = f"{source}: board {name!r}"
  unknown = sorted(set(data) - BOARD_KEYS)
  if unknown:
    raise StudyConfigError(f"{where}: unknown keys {unknown} (known: {sorted(BOARD_KEYS)})")
  try:
    ruleset = tuning.Ruleset(data.get("ruleset", "self"))
  except ValueError:
    raise StudyConfigError(f"{where}: ruleset must be 'self' or 'external', got "
                           f"{data.get('ruleset')!r}") from None
  submissions = {str(k): _resolve(v) for k, v in dict(data.get("submissions", {})).items()}
  spaces = {str(k): _resolve(v) for k, v in dict(data.get("search_spaces", {})).items()}
  trials = int(data.get("trials", 1))
  if ruleset is tuning.Ruleset.EXTERNAL:
    lacking = sorted(set(submissions) - set(spaces))
    if lacking:
      raise StudyConfigError(f"{where}: the external ruleset needs a search space for "
                             f"{lacking} (search_spaces: {{name: configs/search_spaces/...}})")
  elif trials != 1 or spaces:
    raise StudyConfigError(f"{where}: the self-tuning ruleset has one trial per study and no "
                           "search spaces; drop trials/search_spaces or use ruleset 'external'")
  missing = [p for p in (*submissions.values(), *spaces.values()) if not Path(p).is_file()]
  if missing:
    raise StudyConfigError(f"{where}: no such file(s): {', '.join(missing)}")
  if not submissions or not data.get("workloads"):
    raise StudyConfigError(f"{where}: needs workloads and submissions")
  baseline = data.get("baseline")
  if baseline is not None and baseline not in submissions:
    raise StudyConfigError(f"{where}: baseline {baseline!r} is not one of its submissions "
                           f"({', '.join(sorted(submissions))})")
  studies = int(data.get("studies", 5))
  if studies < 1 or trials < 1:
    raise StudyConfigError(f"{where}: studies and trials must be at least 1")
  return Board(name=name, ruleset=ruleset, studies=studies, trials=trials,
               workloads=tuple(data["workloads"]), submissions=submissions,
               search_spaces=spaces, baseline=None if baseline is None else str(baseline))


def load_board_study(source: str | Path, data: Mapping[str, Any]) -> BoardStudy:
  unknown = sorted(set(data) - {"name", "size", "seed", "boards", "compilation_cache"})
  if unknown:
    raise StudyConfigError(f"{source}: unknown keys {unknown} (a board study has name, size, "
                           "seed, compilation_cache and boards)")
  cache = data.get("compilation_cache", False)
  if not isinstance(cache, bool):
    raise StudyConfigError(f"{source}: compilation_cache must be True or False, got {cache!r}")
  boards = tuple(_board(str(source), str(name), board)
                 for name, board in dict(data["boards"]).items())
  return BoardStudy(name=str(data.get("name", Path(source).stem)), size=str(data.get("size", "tiny")),
                    seed=int(data.get("seed", 0)), boards=boards, compilation_cache=cache)


def board_dir(workdir: Path, board: str) -> Path:
  return Path(workdir) / board


def board_specs(study: BoardStudy, workdir: Path, *, boards: Sequence[str] | None = None,
                workloads: Sequence[str] | None = None,
                submissions: Sequence[str] | None = None,
                extra_overrides: Sequence[str] = (),
                settings: Mapping[str, Any] | None = None,
                max_studies: int | None = None) -> list[TrialSpec]:
  """Every chosen board's trials as sweep specs, study by study (boards, workloads and
  submissions may be narrowed, a name no board has is refused; max_studies caps each cell's
  studies)."""
  names = {b.name for b in study.boards}
  for kind, chosen, known in (
      ("boards", boards, names),
      ("workloads", workloads, {w for b in study.boards for w in b.workloads}),
      ("submissions", submissions, {s for b in study.boards for s in b.submissions})):
    unknown = sorted(set(chosen or ()) - set(known))
    if unknown:
      raise StudyConfigError(f"--{kind}: {unknown} are not in study {study.name!r} "
                             f"({', '.join(sorted(known))}).")
  run_settings = RunSettings(**dict(settings or {}))
  specs: list[TrialSpec] = []
  for board in study.boards:
    if boards and board.name not in boards:
      continue
    for workload in board.workloads:
      if workloads and workload not in workloads:
        continue
      for name, path in board.submissions.items():
        if submissions and name not in submissions:
          continue
        request = tuning.TuneRequest(
            workload=workload, size=study.size, submission=path,
            workdir=board_dir(workdir, board.name) / workload / name, ruleset=board.ruleset,
            num_studies=min(board.studies, max_studies or board.studies),
            num_trials=board.trials,
            search_space=board.search_spaces.get(name), seed=study.seed,
            config_overrides=tuple(extra_overrides), settings=run_settings)
        _, made = tuning.tuning_specs(request)
        specs += [dataclasses.replace(s, label=f"{board.name}: {name} on {workload} {s.label}",
                                      compilation_cache=study.compilation_cache)
                  for s in made]
  return study_major_in_random_order(specs, study.seed)


def study_major_in_random_order(specs: Sequence[TrialSpec], seed: int) -> list[TrialSpec]:
  """Study 0 of every cell, then study 1, ...: a sweep stopped part-way (a session's end, a
  killed job) leaves every cell with the same number of studies, give or take one. Within a
  study the trials run in a random order, the same for the same specs and seed: the process-CPU
  time of the same steps drifts by about a tenth over hours on a shared machine, and in list
  order the submissions listed first would always run at the start of each round and the last
  at its end; shuffled, such a drift is noise to every submission, not a bias of its place."""
  ordered: list[TrialSpec] = []
  for number in sorted({s.study for s in specs}):
    chunk = [s for s in specs if s.study == number]
    random.Random(f"board order {seed} {number}").shuffle(chunk)
    ordered += chunk
  return ordered
