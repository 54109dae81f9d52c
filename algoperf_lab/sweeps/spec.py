"""A trial spec: everything one run of a sweep needs, as JSON, with a content hash.

A spec is what a worker anywhere (this process, a subprocess, a Ray task, a SLURM array task)
needs to run one trial exactly as `tune` would: the workload and size, the submission file
(relative to the working directory where it lies under it, as the run folder is, so that a spec
made in one clone of the lab runs and hashes the same in a clone at another path), the
hyperparameters and seed, the ruleset/study/trial labels, the config overrides and the run
settings that change the result, the run folder, and whether it compiles through the
persistent compilation cache. `spec_hash` covers every field that changes what the trial
computes (not its folder, progress display, data location or compilation cache, which moves
its compile time, not its numbers), so a finished record is reused only for the very same
trial (the harness and `tune` also check hyperparameters, seed, config and settings against
the record itself).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from algoperf_lab.harness.loop import RunSettings

SPEC_FILE = "spec.json"
# RunSettings fields a spec carries (mesh and sharding stay at their defaults in sweeps).
SETTING_FIELDS = ("eval_every_steps", "max_steps", "max_runtime_sec", "stop_at_target",
                  "checkpoint_every_sec", "clock", "data_dir", "progress")
_NOT_HASHED = ("workdir", "label", "settings.data_dir", "settings.progress",
               "compilation_cache")


@dataclasses.dataclass(frozen=True)
class TrialSpec:
  workload: str
  size: str
  submission: str  # the submission file (a path every worker sees; see portable_path)
  hparams: Mapping[str, Any]
  seed: int
  ruleset: str  # "external", "self" or "none"
  study: int | None  # None for a run outside any tuning ruleset
  trial: int | None
  workdir: str
  config_overrides: tuple[str, ...] = ()
  settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  extra_known_hparams: tuple[str, ...] = ()
  label: str = ""  # how progress lines name it, e.g. "study 0 trial 1"
  budget_sec: float = 0.0  # the trial's budget on its clock (trial.json's max_runtime_sec)
  # False: the run compiles from scratch, whatever this machine compiled before (the record's
  # `compilation_cache` says which it was).
  compilation_cache: bool = True

  def to_json(self) -> dict[str, Any]:
    data = dataclasses.asdict(self)
    data["config_overrides"] = list(self.config_overrides)
    data["extra_known_hparams"] = list(self.extra_known_hparams)
    return json.loads(json.dumps(data))  # plain JSON types only

  @classmethod
  def from_json(cls, data: Mapping[str, Any]) -> TrialSpec:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
      raise ValueError(f"trial spec has unknown fields {unknown}; was it written by another "
                       "version of algoperf-lab?")
    values = dict(data)
    values["config_overrides"] = tuple(values.get("config_overrides", ()))
    values["extra_known_hparams"] = tuple(values.get("extra_known_hparams", ()))
    return cls(**values)

  def run_settings(self) -> RunSettings:
    return RunSettings(seed=self.seed, **{k: v for k, v in self.settings.items()
                                          if k in SETTING_FIELDS})

  @property
  def run_dir(self) -> Path:
    return Path(self.workdir)


def portable_path(path: str) -> str:
  """A file as a spec names it: relative to the working directory where it lies under it (as
  the spec's run folder is named), so that a spec made in one clone of the lab runs, and hashes
  the same, in a clone at another path; elsewhere absolute. Symbolic links are not resolved."""
  absolute = Path(os.path.abspath(path))
  here = Path.cwd()
  return str(absolute.relative_to(here)) if absolute.is_relative_to(here) else str(absolute)


def settings_dict(settings: RunSettings) -> dict[str, Any]:
  return {name: getattr(settings, name) for name in SETTING_FIELDS}


def spec_hash(spec: TrialSpec) -> str:
  """sha256 (16 hex digits) of the fields that change what the trial computes."""
  data = spec.to_json()
  for dotted in _NOT_HASHED:
    node = data
    *parents, leaf = dotted.split(".")
    for part in parents:
      node = node[part]
    node.pop(leaf, None)
  text = json.dumps(data, sort_keys=True, separators=(",", ":"))
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def submitted_spec_name(run_name: str, digest: str) -> str:
  """The file name of a submitted spec beside run folder `run_name` ("*" as digest: a glob)."""
  return f"{run_name}.{digest}.spec.json"


def submitted_spec_path(spec: TrialSpec) -> Path:
  """Where an executor leaves the spec for a worker elsewhere: beside the run folder, named by
  its hash, so it never overwrites what a folder holds."""
  return spec.run_dir.parent / submitted_spec_name(spec.run_dir.name, spec_hash(spec))


def write_spec(spec: TrialSpec, path: Path | None = None) -> Path:
  """The spec with its hash as JSON (default: submitted_spec_path), atomically."""
  from algoperf_lab.atomic_files import write_text_atomically

  path = submitted_spec_path(spec) if path is None else path
  path.parent.mkdir(parents=True, exist_ok=True)
  write_text_atomically(path, json.dumps({**spec.to_json(), "spec_hash": spec_hash(spec)},
                                         indent=1, sort_keys=True) + "\n")
  return path


def read_spec(path: Path) -> TrialSpec:
  data = json.loads(Path(path).read_text())
  data.pop("spec_hash", None)
  return TrialSpec.from_json(data)
