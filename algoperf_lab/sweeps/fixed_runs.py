"""Specs for the study scripts' fixed runs: one submission, its defaults (or given
hyperparameters), one seed, in a folder the script names — a sweep like any other."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax

from algoperf_lab import loader, registry
from algoperf_lab.harness.clock import resolve_clock
from algoperf_lab.harness.loop import RunSettings
from algoperf_lab.sweeps.spec import TrialSpec, portable_path, settings_dict


def fixed_run_spec(*, workload: str, size: str, submission: str, seed: int, workdir: Path,
                   config_overrides: tuple[str, ...] = (),
                   settings: RunSettings = RunSettings(),
                   hparams: Mapping[str, Any] | None = None, label: str = "") -> TrialSpec:
  """A run outside any tuning ruleset (study and trial null), its budget and clock resolved
  as `algoperf-lab run` resolves them."""
  defaults = dict(loader.load_submission(submission).default_hparams or {})
  made = registry.make_workload(workload, size, config_overrides)
  clock = resolve_clock(settings.clock, jax.devices()[0].platform,
                        made.max_allowed_cpu_sec is not None,
                        settings.max_runtime_sec is not None)
  budget = float(settings.max_runtime_sec or (made.max_allowed_cpu_sec if clock == "process_cpu"
                                               else made.max_allowed_runtime_sec))
  settings = dataclasses.replace(settings, seed=seed, max_runtime_sec=budget, clock=clock)
  return TrialSpec(workload=workload, size=size, submission=portable_path(submission),
                   hparams={**defaults, **dict(hparams or {})}, seed=seed, ruleset="none",
                   study=None, trial=None, workdir=str(workdir),
                   config_overrides=tuple(config_overrides), settings=settings_dict(settings),
                   label=label or f"{Path(submission).stem} on {workload}/{size} seed {seed}",
                   budget_sec=budget)
