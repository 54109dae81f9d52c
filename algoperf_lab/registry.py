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
def _load_entry_points() -> tuple[dict[str, type[spec.Workload]], dict[str, str]]:
  """Loads every registered workload; one that fails to import is recorded, not fatal."""
  classes, errors = {}, {}
  for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
    try:
      classes[entry.name] = entry.load()
    except Exception as error:  # a broken plugin must not take the other workloads down
      errors[entry.name] = f"{entry.value}: {type(error).__name__}: {error}"
  return classes, errors


def workload_classes() -> dict[str, type[spec.Workload]]:
  return _load_entry_points()[0]


def load_errors() -> dict[str, str]:
  """Registered workloads that could not be imported, with the reason."""
  return _load_entry_points()[1]


def workload_class(name: str) -> type[spec.Workload]:
  classes = workload_classes()
  if name in load_errors():
    raise UnknownWorkloadError(f"workload {name!r} is registered but failed to import: "
                               f"{load_errors()[name]}")
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
