"""Muon on the hidden matrices, AdamW on the rest; linear warmup and cosine decay over `step_hint`.

Muon, MomentUm Orthogonalized by Newton-Schulz (Jordan et al. 2024,
https://kellerjordan.github.io/posts/muon/; Bernstein & Newhouse 2024, "Old Optimizer, New
Norm", arXiv:2409.20325), as its authors' code computes it (KellerJordan/Muon, `muon.py`,
`muon_update` and `zeropower_via_newtonschulz5`):
  m_t = β m_{t−1} + (1−β) g_t,  u_t = (1−β) g_t + β m_t  (Nesterov; no bias correction),
  O_t = five quintic Newton-Schulz steps (3.4445, −4.7750, 2.0315) on u_t / (‖u_t‖_F + 1e-7),
  x_t = (1 − η_t λ) x_{t−1} − η_t sqrt(max(1, fan_out / fan_in)) O_t.
optax.contrib.muon is not used: it debiases the Nesterov momentum (β m_t / (1 − β^{t+1}) +
(1−β) g_t / (1 − β^t)), normalises with ε = 1e-8, and its non-matrix branch is NAdamW
(`adamw(..., nesterov=True)`). tests/reference/muon_test.py runs this module beside a port of
the authors' `SingleDeviceMuonWithAuxAdam`.

submissions/lib/param_labels.py says which leaves are hidden matrices (2-D weights and
attention projections, seen as one fan-in × fan-out matrix each); embeddings, the output
layer, norm gains and biases take AdamW, as Muon's authors prescribe. That branch is this lab's
AdamW baseline (optax.adamw: decoupled decay times η_t, ε = 1e-8), with its settings.

Defaults: learning_rate 0.02 and beta 0.95 are the defaults of the authors' `Muon` class;
weight_decay 0.01 is their README's usage example (the class defaults to 0); five
Newton-Schulz steps and Nesterov momentum are their defaults too. The adam_* values are
submissions/baselines/adamw.py's (lr 0.002, β 0.9/0.99, λ 0.05), not the authors' auxiliary
Adam (lr 3e-4, β 0.9/0.95, ε 1e-10, λ 0), so that Muon differs from the AdamW baseline only
on the hidden matrices. Departures: the reference runs Newton-Schulz in bfloat16 on the GPU;
here it runs in the parameters' dtype (float32 in training, float64 in the reference test),
and both branches follow the lab's warmup + cosine schedule (the authors leave the schedule
to the training script).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from optax.contrib import MuonDimensionNumbers

from algoperf_lab import spec
from submissions.lib import param_labels
from submissions.lib.schedules.cosine import warmup_cosine

HPARAMS = {
    "learning_rate": 0.02,
    "beta": 0.95,
    "weight_decay": 0.01,
    "adam_learning_rate": 0.002,
    "adam_b1": 0.9,
    "adam_b2": 0.99,
    "adam_weight_decay": 0.05,
    "warmup_factor": 0.05,
    "dropout_rate": 0.0,
}

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # the authors' quintic (a, b, c)
NS_STEPS = 5
NS_EPS = 1e-7  # added to the Frobenius norm before dividing, as the authors do

_MUON, _ADAM = "muon", "adam"


def _is_dimension_numbers(node: Any) -> bool:
  return node is None or isinstance(node, MuonDimensionNumbers)


def _axes(axes: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
  return tuple(a % ndim for a in ((axes,) if isinstance(axes, int) else axes))


def _as_matrix(x: jax.Array, dims: MuonDimensionNumbers
               ) -> tuple[jax.Array, Callable[[jax.Array], jax.Array]]:
  """x as its (fan_in × fan_out) matrix, and the map back to x's layout."""
  reduction, output = _axes(dims.reduction_axis, x.ndim), _axes(dims.output_axis, x.ndim)
  order = reduction + output
  if sorted(order) != list(range(x.ndim)):
    raise ValueError(f"Muon needs every axis of a {x.shape} leaf to be a reduction or output "
                     f"axis, got {dims}.")
  fan_in = math.prod(x.shape[a] for a in reduction)
  permuted_shape = tuple(x.shape[a] for a in order)
  inverse = tuple(order.index(a) for a in range(x.ndim))
  matrix = x.transpose(order).reshape(fan_in, -1)
  return matrix, lambda m: m.reshape(permuted_shape).transpose(inverse)


def orthogonalize(g_AxB: jax.Array, steps: int = NS_STEPS) -> jax.Array:
  """The authors' `zeropower_via_newtonschulz5`: about U S' Vᵀ, S' within ~[0.5, 1.5], for
  g = U S Vᵀ (worked on the wide orientation, so that X Xᵀ is the smaller Gram matrix)."""
  a, b, c = NS_COEFFICIENTS
  tall = g_AxB.shape[0] > g_AxB.shape[1]
  x = g_AxB.T if tall else g_AxB
  x = x / (jnp.linalg.norm(x) + NS_EPS)
  for _ in range(steps):
    gram = x @ x.T
    x = a * x + (b * gram + c * gram @ gram) @ x
  return x.T if tall else x


class ScaleByMuonState(NamedTuple):
  momentum: optax.Updates  # m_t for each hidden matrix (optax.MaskedNode elsewhere)


def scale_by_muon(dimension_numbers: Any, beta: float = 0.95, nesterov: bool = True,
                  ns_steps: int = NS_STEPS) -> optax.GradientTransformation:
  """The authors' `muon_update`: momentum, Newton-Schulz, times sqrt(max(1, fan_out/fan_in)).

  `dimension_numbers` is a tree like the parameters (param_labels.hidden_matrices): each leaf
  a MuonDimensionNumbers, or None for a leaf this transformation does not see (optax.partition
  hands it an optax.MaskedNode there).
  """

  def init_fn(params: optax.Params) -> ScaleByMuonState:
    return ScaleByMuonState(momentum=optax.tree.zeros_like(params))

  def direction(dims: MuonDimensionNumbers | None, u: Any) -> Any:
    if dims is None:
      return u
    matrix, back = _as_matrix(u, dims)
    fan_in, fan_out = matrix.shape
    return back(orthogonalize(matrix, ns_steps) * max(1.0, fan_out / fan_in) ** 0.5)

  def update_fn(updates: optax.Updates, state: ScaleByMuonState,
                params: optax.Params | None = None) -> tuple[optax.Updates, ScaleByMuonState]:
    del params
    momentum = optax.tree.update_moment(updates, state.momentum, beta, 1)
    lookahead = (optax.tree.update_moment(updates, momentum, beta, 1) if nesterov
                 else momentum)
    updates = jax.tree.map(direction, dimension_numbers, lookahead, is_leaf=_is_dimension_numbers)
    return updates, ScaleByMuonState(momentum=momentum)

  return optax.GradientTransformation(init_fn, update_fn)


def muon(learning_rate: optax.ScalarOrSchedule, dimension_numbers: Any, beta: float,
         weight_decay: float, adam: optax.GradientTransformation,
         nesterov: bool = True) -> optax.GradientTransformation:
  """Muon (decoupled decay times η_t, as the authors' `p.mul_(1 − lr·wd)`) on the leaves with
  dimension numbers, `adam` on the others."""
  labels = jax.tree.map(lambda dims: _ADAM if dims is None else _MUON, dimension_numbers,
                        is_leaf=_is_dimension_numbers)
  matrices = optax.chain(scale_by_muon(dimension_numbers, beta, nesterov),
                         optax.add_decayed_weights(weight_decay),
                         optax.scale_by_learning_rate(learning_rate))
  return optax.partition({_MUON: matrices, _ADAM: adam}, labels)


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  def schedule(peak: float) -> optax.Schedule:
    return warmup_cosine(peak, workload.step_hint, hparams.warmup_factor)

  adamw = optax.adamw(schedule(hparams.adam_learning_rate), b1=hparams.adam_b1,
                      b2=hparams.adam_b2, weight_decay=hparams.adam_weight_decay)
  return muon(schedule(hparams.learning_rate), param_labels.workload_hidden_matrices(workload),
              beta=hparams.beta, weight_decay=hparams.weight_decay, adam=adamw)
