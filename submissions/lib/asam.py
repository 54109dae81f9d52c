"""ASAM's adaptive, scale-invariant perturbation, for submissions/lib/sam.py's sam_gradient.

Kwon et al. 2021, "ASAM: Adaptive Sharpness-Aware Minimization for Scale-Invariant Learning
of Deep Neural Networks", eq. 12 with the element-wise normalisation operator
T_w = |w| + η: ε = ρ T_w² g / ‖T_w g‖. Rescaling a weight rescales its perturbation, so the
sharpness it measures does not change under reparametrisations that leave the loss unchanged.
Checked on a quadratic solved by hand in tests/submissions/sam_test.py.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import optax

from submissions.lib.sam import Perturbation

_TINY = 1e-12


def asam_perturbation(grads: Any, params: Any, rho: float, eta: float = 0.01) -> Any:
  """ε = ρ T_w² g / ‖T_w g‖ with T_w = |w| + η element-wise."""
  scaled = jax.tree.map(lambda g, w: (abs(w) + eta) * g, grads, params)
  scale = rho / (optax.tree.norm(scaled) + _TINY)
  return jax.tree.map(lambda s, w, g: (scale * (abs(w) + eta) * s).astype(g.dtype),
                      scaled, params, grads)


def make_asam_perturbation(eta: float) -> Perturbation:
  if eta < 0:
    raise ValueError(f"ASAM's eta must be >= 0, got {eta}.")
  return functools.partial(asam_perturbation, eta=eta)
