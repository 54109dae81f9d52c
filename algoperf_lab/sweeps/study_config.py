"""Declarative studies: a config file says which runs a study is; `algoperf-lab study` runs them.

A study config (`configs/studies/<name>.py`, `get_config()` returning a dict or ConfigDict):

    name, size, workloads (list), submissions ({name: file}), seeds (list),
    settings ({RunSettings field: value}, e.g. max_steps, eval_every_steps, stop_at_target),
    overrides (list of --config.KEY=VALUE), score_args (list: what `score` needs for it,
    e.g. --mtl_reference=linear_scalarisation)

Each (workload, submission, seed) is a fixed run (sweeps/fixed_runs.py) in
WORKDIR/runs/<workload>/<submission>/seed_<seed>; the runs are one sweep on any executor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from algoperf_lab.config_files import read_get_config
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.sweeps.fixed_runs import fixed_run_spec
from algoperf_lab.sweeps.spec import SETTING_FIELDS, TrialSpec

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


class StudyConfigError(ValueError):
  """A study config is unusable; the message names the file, the key and the fix."""


@dataclasses.dataclass(frozen=True)
class StudyConfig:
  name: str
  size: str
  workloads: tuple[str, ...]
  submissions: Mapping[str, str]
  seeds: tuple[int, ...]
  settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  overrides: tuple[str, ...] = ()
  score_args: tuple[str, ...] = ()


def is_board_study_file(path: str | Path) -> bool:
  """Whether the config has boards (a leaderboard study: sweeps/board_study.py)."""
  return "boards" in read_get_config(path, StudyConfigError, "--study",
                                     "configs/studies/mtl_tiny.py")


def load_study_config(path: str | Path) -> StudyConfig:
  data = read_get_config(path, StudyConfigError, "--study", "configs/studies/mtl_tiny.py")
  known = {f.name for f in dataclasses.fields(StudyConfig)}
  unknown = sorted(set(data) - known)
  missing = sorted({"name", "size", "workloads", "submissions", "seeds"} - set(data))
  if unknown or missing:
    raise StudyConfigError(f"{path}: " + "; ".join(
        ([f"unknown keys {unknown} (known: {sorted(known)})"] if unknown else [])
        + ([f"missing keys {missing}"] if missing else [])))
  bad = sorted(set(data.get("settings", {})) - set(SETTING_FIELDS))
  if bad:
    raise StudyConfigError(f"{path}: settings {bad} are not run settings "
                           f"(choose from {list(SETTING_FIELDS)}).")
  return StudyConfig(name=str(data["name"]), size=str(data["size"]),
                     workloads=tuple(data["workloads"]), submissions=dict(data["submissions"]),
                     seeds=tuple(int(s) for s in data["seeds"]),
                     settings=dict(data.get("settings", {})),
                     overrides=tuple(data.get("overrides", ())),
                     score_args=tuple(data.get("score_args", ())))


def run_dir(workdir: Path, workload: str, submission: str, seed: int) -> Path:
  return Path(workdir) / "runs" / workload / submission / f"seed_{seed}"


def study_specs(config: StudyConfig, workdir: Path, *, seeds: Sequence[int] | None = None,
                workloads: Sequence[str] | None = None,
                submissions: Sequence[str] | None = None,
                extra_overrides: Sequence[str] = (),
                settings: Mapping[str, Any] | None = None) -> list[TrialSpec]:
  """The study's runs (optionally a subset, or with other seeds/settings) as sweep specs."""
  for kind, chosen, known in (("workloads", workloads, config.workloads),
                              ("submissions", submissions, tuple(config.submissions))):
    unknown = sorted(set(chosen or ()) - set(known))
    if unknown:
      raise StudyConfigError(f"--{kind}: {unknown} are not in study {config.name!r} "
                             f"({', '.join(known)}).")
  run_settings = RunSettings(**{**config.settings, **(settings or {})})
  return [fixed_run_spec(workload=w, size=config.size,
                         submission=str(REPO_ROOT / config.submissions[name]), seed=seed,
                         workdir=run_dir(workdir, w, name, seed),
                         config_overrides=(*config.overrides, *extra_overrides),
                         settings=run_settings, label=f"{name} on {w}/{config.size} seed {seed}")
          for w in (workloads or config.workloads) for name in (submissions or config.submissions)
          for seed in (seeds or config.seeds)]
