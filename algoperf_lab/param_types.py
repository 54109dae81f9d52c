"""AlgoPerf ParameterType leaves for a flax parameter tree, read from the parameter names."""

from __future__ import annotations

from typing import Any

import jax

from algoperf_lab import spec

_ATTENTION = {"query": spec.ParameterType.ATTENTION_Q, "key": spec.ParameterType.ATTENTION_K,
              "value": spec.ParameterType.ATTENTION_V, "out": spec.ParameterType.ATTENTION_OUT,
              "qkv": spec.ParameterType.ATTENTION_QKV, "kv": spec.ParameterType.ATTENTION_KV}


def _leaf_type(path: tuple[Any, ...]) -> spec.ParameterType:
  names = [str(getattr(entry, "key", entry)) for entry in path]
  leaf, owner = names[-1], names[-2] if len(names) > 1 else ""
  if leaf == "embedding":
    return spec.ParameterType.EMBEDDING
  if leaf == "scale":
    return (spec.ParameterType.BATCH_NORM_SCALE if "batchnorm" in owner.lower()
            else spec.ParameterType.LAYER_NORM_SCALE)
  if leaf == "bias":
    if "norm" in owner.lower():
      return (spec.ParameterType.BATCH_NORM_BIAS if "batchnorm" in owner.lower()
              else spec.ParameterType.LAYER_NORM_BIAS)
    return spec.ParameterType.ATTENTION_BIAS if owner in _ATTENTION else spec.ParameterType.BIAS
  if owner in _ATTENTION:
    return _ATTENTION[owner]
  return spec.ParameterType.WEIGHT


def param_types(params: Any) -> Any:
  return jax.tree_util.tree_map_with_path(lambda path, _: _leaf_type(path), params)


def param_shapes(params: Any) -> Any:
  return jax.tree.map(lambda x: spec.ShapeTuple(x.shape), params)
