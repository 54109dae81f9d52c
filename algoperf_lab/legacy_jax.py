"""JAX names that AlgoPerf-era submissions use and that current JAX no longer has.

AlgoPerf's v0.5 leaderboard entries call `jax.tree_map` and friends, removed in JAX 0.6 in
favour of `jax.tree.*`; later files call `jnp.clip(x, a_min=...)`, whose `a_min`/`a_max`
keywords JAX 0.8 removed in favour of `min`/`max`. A submission's own modules see `jax` through
`JaxWithRemovedAliases`, which forwards every attribute to the real module and adds only what
JAX lacks. JAX itself is not modified: the lab's code and every other module keep the real one.
"""

from __future__ import annotations

import builtins
import types
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

REMOVED_TREE_ALIASES: Mapping[str, Callable[..., Any]] = {
    "tree_map": jax.tree.map,
    "tree_leaves": jax.tree.leaves,
    "tree_flatten": jax.tree.flatten,
    "tree_unflatten": jax.tree.unflatten,
    "tree_structure": jax.tree.structure,
    "tree_reduce": jax.tree.reduce,
    "tree_transpose": jax.tree.transpose,
}


def _clip_with_numpy_keywords(x: Any, min: Any = None, max: Any = None, *,  # noqa: A002
                              a_min: Any = None, a_max: Any = None) -> Any:
  """jnp.clip accepting NumPy 1's `a_min` / `a_max` as well as `min` / `max`."""
  return jnp.clip(x, min=a_min if min is None else min, max=a_max if max is None else max)


class _NumpyView(types.ModuleType):
  """`jax.numpy` with `clip` taking the keywords older JAX took."""

  def __init__(self) -> None:
    super().__init__("jax.numpy", jnp.__doc__)

  def __getattr__(self, name: str) -> Any:
    if name == "clip":
      return _clip_with_numpy_keywords
    return getattr(jnp, name)


class JaxWithRemovedAliases(types.ModuleType):
  """The `jax` module as an AlgoPerf-era submission expects it."""

  def __init__(self) -> None:
    super().__init__("jax", jax.__doc__)
    self.__dict__["__path__"] = jax.__path__

  def __getattr__(self, name: str) -> Any:
    if name == "numpy":
      return _NUMPY_VIEW
    try:
      return getattr(jax, name)
    except AttributeError:
      if name in REMOVED_TREE_ALIASES:
        return REMOVED_TREE_ALIASES[name]
      raise

  def __dir__(self) -> list[str]:
    return sorted(set(dir(jax)) | set(REMOVED_TREE_ALIASES))


_NUMPY_VIEW = _NumpyView()
_JAX_VIEW = JaxWithRemovedAliases()


def _import_with_jax_view(name: str, globals: Any = None, locals: Any = None,  # noqa: A002
                          fromlist: Any = (), level: int = 0) -> Any:
  module = builtins.__import__(name, globals, locals, fromlist, level)
  if module is jax:
    return _JAX_VIEW
  return _NUMPY_VIEW if module is jnp else module


def submission_builtins() -> dict[str, Any]:
  """Builtins for a submission module's globals: imports of jax see the views above."""
  return {**builtins.__dict__, "__import__": _import_with_jax_view}
