"""Python config files read by path (`get_config()` returning a dict or ConfigDict): the study
configs of `set-targets` and `study`."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any


def read_get_config(path: str | Path, error: type[Exception], flag: str,
                    example: str) -> dict[str, Any]:
  """The file's `get_config()` as a plain dict; `error` naming the file, the flag and an
  example config when the file is missing or has no get_config."""
  path = Path(path)
  if not path.is_file():
    raise error(f"{flag}={path}: no such file; see {example}.")
  spec = importlib.util.spec_from_file_location(f"config_file_{path.stem}", path)
  assert spec is not None and spec.loader is not None
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if not hasattr(module, "get_config"):
    raise error(f"{path} has no get_config(); see {example}.")
  config = module.get_config()
  return dict(config.to_dict() if hasattr(config, "to_dict") else config)
