"""Held-out workload variants: the same data, a changed model, a target of its own.

A variant is a subclass of its base workload whose `get_config` comes from a derived config
file (`configs/<variant>.py`, which imports the base config and overrides it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import ml_collections

W = TypeVar("W")


def make_variant(base: type[W], name: str, description: str,
                 get_config: Callable[[str], ml_collections.ConfigDict]) -> type[W]:
  """A subclass of `base` registered under `name`, configured by `get_config(size)`."""

  def variant_config(cls: type, size: str) -> ml_collections.ConfigDict:
    del cls
    return get_config(size)

  class_name = "".join(part.capitalize() for part in name.split("_")) + "Workload"
  return type(class_name, (base,), {  # type: ignore[return-value]
      "name": name, "description": description, "base_workload": base.name,  # type: ignore[attr-defined]
      "get_config": classmethod(variant_config), "__module__": base.__module__})
