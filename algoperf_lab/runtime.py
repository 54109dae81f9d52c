"""Process-wide JAX settings the CLI applies once at start-up."""

from __future__ import annotations

import os
from pathlib import Path

import jax


def compilation_cache_dir() -> Path:
  base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
  return Path(base) / "algoperf_lab" / "jax_compilation_cache"


def enable_compilation_cache(directory: Path | None = None) -> Path:
  """Turns on JAX's persistent compilation cache, for small programs too.

  A second run of the same shapes then loads its executables instead of compiling them.
  """
  directory = directory or compilation_cache_dir()
  directory.mkdir(parents=True, exist_ok=True)
  jax.config.update("jax_compilation_cache_dir", str(directory))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
  return directory
