"""Finds workloads through the `algoperf_lab.workloads` entry-point group.

Each entry point names a Workload class with `sizes`, `description`, `get_config(size)` and a
constructor `(config, size)`. The harness receives workloads from here and never imports a
workload module by name.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import ml_collections

from algoperf_lab import config as config_lib
from algoperf_lab import spec

ENTRY_POINT_GROUP = "algoperf_lab.workloads"


class UnknownWorkloadError(KeyError):
  def __str__(self) -> str:  # KeyError would quote the message
    return str(self.args[0])


@functools.cache
def workload_classes() -> dict[str, type[spec.Workload]]:
  entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
  return {entry.name: entry.load() for entry in sorted(entry_points, key=lambda e: e.name)}


def workload_class(name: str) -> type[spec.Workload]:
  classes = workload_classes()
  if name not in classes:
    known = ", ".join(classes) or "none (is algoperf_lab installed with `pip install -e .`?)"
    raise UnknownWorkloadError(f"unknown workload {name!r}; registered workloads: {known}.")
  return classes[name]


def workload_config(name: str, size: str, overrides: Sequence[str] = ()) -> ml_collections.ConfigDict:
  cls: Any = workload_class(name)
  if size not in cls.sizes:
    raise UnknownWorkloadError(f"workload {name!r} has no size {size!r}; sizes: {', '.join(cls.sizes)}.")
  return config_lib.apply_overrides(cls.get_config(size), overrides)


def make_workload(name: str, size: str, overrides: Sequence[str] = ()) -> spec.Workload:
  """The workload `name` at `size`, with `--config.key=value` overrides applied."""
  cls: Any = workload_class(name)
  workload = cls(workload_config(name, size, overrides), size=size)
  workload.name = name
  return workload
