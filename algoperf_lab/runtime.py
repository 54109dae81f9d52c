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


def use_compilation_cache(enabled: bool) -> None:
  """From now on in this process, compile through the persistent cache (on) or from scratch.

  Off also empties JAX's in-memory caches, so a process that runs several trials (the
  in-process and Ray executors) compiles each one afresh, as a process of its own would: every
  run then pays its own compilation, as in AlgoPerf, whatever ran before it on the machine.
  """
  from jax.experimental.compilation_cache import compilation_cache

  if enabled:
    enable_compilation_cache()
  else:
    jax.clear_caches()
  jax.config.update("jax_enable_compilation_cache", enabled)
  compilation_cache.reset_cache()  # JAX decides once whether the cache is used; ask again


def compilation_cache_on() -> bool:
  """Whether what this process compiles now goes through the persistent cache."""
  return bool(jax.config.jax_enable_compilation_cache and jax.config.jax_compilation_cache_dir)
