"""ASAM's adaptive, scale-invariant perturbation, for submissions/lib/sam.py's sam_gradient.

Kwon et al. 2021, "ASAM: Adaptive Sharpness-Aware Minimization for Scale-Invariant Learning
of Deep Neural Networks", eq. 12 with the element-wise normalisation operator
T_w = |w| + η: ε = ρ T_w² g / ‖T_w g‖. Rescaling a weight rescales its perturbation, so the
sharpness it measures does not change under reparametrisations that leave the loss unchanged.

As the authors' code does (SamsungLabs/ASAM `asam.py`, `ASAM.ascent_step`), T_w multiplies
only the parameters whose PyTorch name contains 'weight'; the others (biases) take T = 1, in
the norm and in ε alike. In PyTorch that name covers linear and convolution weights,
embeddings and the scales of batch and layer norm, and leaves out every bias; in the lab's
AlgoPerf parameter types it is every type but the four bias types (`BIAS`, `BATCH_NORM_BIAS`,
`LAYER_NORM_BIAS`, `ATTENTION_BIAS`), read from the workload's `model_params_types`. The norm
gets the authors' +1e-16. tests/reference/asam_test.py runs it beside a port of that file.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax

from algoperf_lab import spec
from submissions.lib.sam import Perturbation

_TINY = 1e-16  # added to ‖T_w g‖, as in the authors' asam.py
BIAS_TYPES = frozenset({spec.ParameterType.BIAS, spec.ParameterType.BATCH_NORM_BIAS,
                        spec.ParameterType.LAYER_NORM_BIAS, spec.ParameterType.ATTENTION_BIAS})


def asam_perturbation(grads: Any, params: Any, rho: float, eta: float = 0.01,
                      scaled: Any = None) -> Any:
  """ε = ρ T² g / ‖T g‖, T = |w| + η element-wise on leaves where `scaled` (a pytree of bools
  shaped like `params`; default all True) holds, T = 1 on the others."""
  if scaled is None:
    scaled = jax.tree.map(lambda _: True, params)
  normaliser = jax.tree.map(lambda w, s: abs(w) + eta if s else jnp.ones_like(w), params, scaled)
  scaled_grads = jax.tree.map(lambda t, g: t * g, normaliser, grads)
  scale = rho / (optax.tree.norm(scaled_grads) + _TINY)
  return jax.tree.map(lambda t, s, g: (scale * t * s).astype(g.dtype),
                      normaliser, scaled_grads, grads)


def weight_mask(param_types: Any) -> Any:
  """True for every parameter whose type is not a bias type (the authors' 'weight' in name)."""
  return jax.tree.map(lambda t: t not in BIAS_TYPES, param_types)


def make_asam_perturbation(eta: float, param_types: Any = None) -> Perturbation:
  """ASAM's perturbation; `param_types` (the workload's `model_params_types`) keeps biases
  out of T_w, as the authors' code does; None scales every leaf."""
  if eta < 0:
    raise ValueError(f"ASAM's eta must be >= 0, got {eta}.")
  scaled = None if param_types is None else weight_mask(param_types)
  return functools.partial(asam_perturbation, eta=eta, scaled=scaled)
