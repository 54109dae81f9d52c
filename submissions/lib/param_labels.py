"""Which parameters are hidden-layer matrices, read from AlgoPerf parameter types and shapes.

Matrix optimizers (Muon, and others that precondition a weight as a matrix) are meant for
the hidden layers only; as Muon's authors prescribe (Jordan et al. 2024,
https://kellerjordan.github.io/posts/muon/), embeddings, the output layer, gains and biases
go to a standard optimizer such as AdamW. The answer is given as optax.contrib's
`MuonDimensionNumbers` per leaf (None: not a matrix), which also say how to see an attention
kernel stored as a 3-D flax `DenseGeneral` kernel as the matrix it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
from optax.contrib import MuonDimensionNumbers

from algoperf_lab import spec

_INPUT_PROJECTIONS = (spec.ParameterType.ATTENTION_Q, spec.ParameterType.ATTENTION_K,
                      spec.ParameterType.ATTENTION_V, spec.ParameterType.ATTENTION_KV,
                      spec.ParameterType.ATTENTION_QKV)


def _top_level_key(path: tuple[Any, ...]) -> str:
  return str(getattr(path[0], "key", path[0])) if path else ""


def matrix_dimension_numbers(param_type: spec.ParameterType,
                             shape: tuple[int, ...]) -> MuonDimensionNumbers | None:
  """How a hidden-layer weight of this type and shape is a (fan-in × fan-out) matrix, or None.

  2-D weights are (in, out). Attention kernels keep flax's DenseGeneral layout: queries,
  keys and values (embed, heads, head_dim) map the embedding to all heads at once, the
  output projection (heads, head_dim, embed) maps them back; each is one matrix, as Muon's
  reference implementation treats q, k, v and the output projection. Convolutions, norm
  parameters, biases and embeddings are not matrices here.
  """
  if param_type is spec.ParameterType.WEIGHT and len(shape) == 2:
    return MuonDimensionNumbers(reduction_axis=0, output_axis=1)
  if param_type in _INPUT_PROJECTIONS and len(shape) >= 2:
    return MuonDimensionNumbers(reduction_axis=0, output_axis=tuple(range(1, len(shape))))
  if param_type is spec.ParameterType.ATTENTION_OUT and len(shape) >= 2:
    return MuonDimensionNumbers(reduction_axis=tuple(range(len(shape) - 1)),
                                output_axis=len(shape) - 1)
  return None


def hidden_matrices(param_types: spec.ParameterTypeTree, param_shapes: spec.ParameterShapeTree,
                    is_output_params: Callable[[str], bool]) -> Any:
  """A tree like the parameters: MuonDimensionNumbers for each hidden matrix, else None.

  `is_output_params(top_level_key)` names the output layer (AlgoPerf's
  `Workload.is_output_params`); it is never a hidden matrix, even when 2-D.
  """
  shapes = jax.tree.leaves(param_shapes, is_leaf=lambda x: isinstance(x, spec.ShapeTuple))
  typed = jax.tree_util.tree_leaves_with_path(param_types)
  if len(shapes) != len(typed):
    raise ValueError(f"param_types has {len(typed)} leaves but param_shapes has {len(shapes)}; "
                     "pass the trees of one workload (after init_model_fn).")
  numbers = [None if is_output_params(_top_level_key(path))
             else matrix_dimension_numbers(param_type, shape.shape_tuple)
             for (path, param_type), shape in zip(typed, shapes)]
  return jax.tree.unflatten(jax.tree.structure(param_types), numbers)


def workload_hidden_matrices(workload: spec.Workload) -> Any:
  """`hidden_matrices` for a workload whose `init_model_fn` has run."""
  return hidden_matrices(workload.model_params_types, workload.param_shapes,
                         workload.is_output_params)
