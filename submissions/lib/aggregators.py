"""Multi-task gradient aggregators, each a rule turning T task gradients into one direction.

Every aggregator here returns weights w [T] with the direction d = Σ_k w_k g_k, computed from the
Gram matrix A = G Gᵀ [T, T] of the task gradients alone (g_i · g_j = A_ij), so its cost is
one pass over the gradients for A and one for the weighted sum, whatever the rule:

- linear scalarisation: w_k = 1/T, the gradient of the mean task loss (the baseline).
- PCGrad (Yu et al. 2020, "Gradient Surgery for Multi-Task Learning", Alg. 1): each g_i, in a
  random order over the other tasks, loses its component along every g_j it conflicts with,
  g_i ← g_i − (g_i·g_j)/‖g_j‖² g_j when g_i·g_j < 0; d is the mean of the projected gradients
  (the paper sums them; the mean keeps linear scalarisation's scale).
- CAGrad (Liu et al. 2021, "Conflict-Averse Gradient Descent for Multi-task Learning", eq. 4
  and its dual): w* = argmin over the simplex of g_w·g₀ + c‖g₀‖‖g_w‖ (g₀ the mean gradient,
  g_w = Σ w_k g_k; projected gradient descent, fixed iterations), then
  d = (g₀ + c‖g₀‖/‖g_w‖ g_w) / (1 + c²), the authors' rescaling.
- IMTL-G (Liu et al. 2021, "Towards Impartial Multi-task Learning", §3.2): weights summing to
  one whose d has equal projections on every unit task gradient u_k, from the closed form
  α₂…T = g₁Uᵀ(DUᵀ)⁻¹ with rows D_k = g₁ − g_k, U_k = u₁ − u_k.
- MGDA (Sener & Koltun 2018, "Multi-Task Learning as Multi-Objective Optimization", Alg. 2):
  the min-norm point of the convex hull of the task gradients, by Frank–Wolfe with exact line
  search (fixed iterations). MGDA-UB's upper bound uses gradients with respect to a shared
  representation, which the step contract does not expose; this solves the same min-norm
  problem on the parameter gradients (the problem the bound approximates).

Checked on two-task problems solved by hand in tests/submissions/mtl_test.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

# (Gram matrix [T, T], PRNG key) -> weights [T]
Aggregator = Callable[[jax.Array, jax.Array], jax.Array]

_TINY = 1e-12


def gram_matrix(task_grads: Any) -> jax.Array:
  """A_ij = g_i · g_j over every leaf of a pytree whose leaves have a leading T axis."""
  def leaf_gram(g: jax.Array) -> jax.Array:
    g_TxP = g.reshape(g.shape[0], -1).astype(jnp.float32)
    return g_TxP @ g_TxP.T
  return sum(leaf_gram(g) for g in jax.tree.leaves(task_grads))


def combine(weights_T: jax.Array, task_grads: Any) -> Any:
  """Σ_k w_k g_k, leaf by leaf, in each leaf's dtype."""
  return jax.tree.map(
      lambda g: jnp.tensordot(weights_T.astype(jnp.float32), g.astype(jnp.float32),
                              axes=1).astype(g.dtype), task_grads)


def conflicting_pairs(gram_TxT: jax.Array) -> jax.Array:
  """How many task pairs i < j have g_i · g_j < 0."""
  upper = jnp.triu(jnp.ones_like(gram_TxT, dtype=bool), k=1)
  return jnp.sum((gram_TxT < 0) & upper).astype(jnp.int32)


def linear_scalarisation(gram_TxT: jax.Array, key: jax.Array) -> jax.Array:
  del key
  num_tasks = gram_TxT.shape[0]
  return jnp.full((num_tasks,), 1.0 / num_tasks, jnp.float32)


def pcgrad(gram_TxT: jax.Array, key: jax.Array) -> jax.Array:
  """PCGrad's weights: projected g_i = Σ_j C_ij g_j, tracked in coefficients C [T, T]."""
  num_tasks = gram_TxT.shape[0]
  eye = jnp.eye(num_tasks, dtype=jnp.float32)

  def project_task(i: jax.Array, coefficients_T: jax.Array) -> jax.Array:
    order = jax.random.permutation(jax.random.fold_in(key, i), num_tasks)

    def project_onto(position: jax.Array, c_T: jax.Array) -> jax.Array:
      j = order[position]
      dot = c_T @ gram_TxT[:, j]  # (projected g_i) · g_j
      conflict = (j != i) & (dot < 0) & (gram_TxT[j, j] > _TINY)
      step = jnp.where(conflict, dot / jnp.maximum(gram_TxT[j, j], _TINY), 0.0)
      return c_T - step * eye[j]

    return jax.lax.fori_loop(0, num_tasks, project_onto, coefficients_T)

  coefficients_TxT = jax.vmap(project_task)(jnp.arange(num_tasks), eye)
  return coefficients_TxT.mean(axis=0)


def project_to_simplex(v_T: jax.Array) -> jax.Array:
  """The Euclidean projection onto {w ≥ 0, Σ w = 1} (sort-based; Duchi et al. 2008, Fig. 1)."""
  u_T = jnp.sort(v_T)[::-1]
  cumulative_T = jnp.cumsum(u_T) - 1.0
  index_T = jnp.arange(1, v_T.shape[0] + 1, dtype=v_T.dtype)
  support = jnp.sum(u_T - cumulative_T / index_T > 0)
  theta = cumulative_T[support - 1] / support.astype(v_T.dtype)
  return jnp.maximum(v_T - theta, 0.0)


def cagrad(gram_TxT: jax.Array, key: jax.Array, c: float = 0.4,
           iterations: int = 200) -> jax.Array:
  """CAGrad's weights; the dual is solved by projected gradient descent on the simplex.

  The step is 1 / (a bound on the objective's curvature at the current point): λ_max(A) for
  the linear-plus-quadratic part, scaled by (‖g_w‖ + c‖g₀‖) / ‖g_w‖ for the norm.
  """
  del key
  num_tasks = gram_TxT.shape[0]
  scale = jnp.maximum(jnp.mean(jnp.diag(gram_TxT)), _TINY)
  a_TxT = gram_TxT / scale  # the authors' normalisation; the minimiser w* is unchanged
  b_T = a_TxT.mean(axis=1)  # g_k · g₀
  g0_norm = jnp.sqrt(jnp.maximum(b_T.mean(), 0.0))
  largest_eigenvalue = jnp.maximum(jnp.linalg.eigvalsh(a_TxT)[-1], _TINY)

  def gw_norm(w_T: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.maximum(w_T @ a_TxT @ w_T, 0.0) + 1e-8)

  def objective(w_T: jax.Array) -> jax.Array:
    return w_T @ b_T + c * g0_norm * gw_norm(w_T)

  def descend(_: int, w_T: jax.Array) -> jax.Array:
    norm = gw_norm(w_T)
    step = norm / (largest_eigenvalue * (norm + c * g0_norm))
    return project_to_simplex(w_T - step * jax.grad(objective)(w_T))

  w_T = jax.lax.fori_loop(0, iterations, descend,
                          jnp.full((num_tasks,), 1.0 / num_tasks, jnp.float32))
  lam = c * g0_norm / gw_norm(w_T)
  return (1.0 / num_tasks + lam * w_T) / (1.0 + c ** 2)


def imtl_g(gram_TxT: jax.Array, key: jax.Array) -> jax.Array:
  """IMTL-G's closed-form weights (task 0 as the reference task)."""
  del key
  num_tasks = gram_TxT.shape[0]
  if num_tasks == 1:
    return jnp.ones((1,), jnp.float32)
  norms_T = jnp.sqrt(jnp.maximum(jnp.diag(gram_TxT), _TINY))
  g_dot_u_TxT = gram_TxT / norms_T[None, :]  # g_i · u_j
  # (DUᵀ)_ij = (g₀ − g_i)·(u₀ − u_j), i, j ≥ 1; (g₀Uᵀ)_j = g₀·(u₀ − u_j)
  gu = g_dot_u_TxT
  du = gu[0, 0] - gu[0, 1:][None, :] - gu[1:, 0][:, None] + gu[1:, 1:]
  g0u = gu[0, 0] - gu[0, 1:]
  rest = g0u @ jnp.linalg.pinv(du)
  return jnp.concatenate([1.0 - rest.sum(keepdims=True), rest])


def mgda(gram_TxT: jax.Array, key: jax.Array, iterations: int = 50) -> jax.Array:
  """The min-norm convex combination of the task gradients, by Frank–Wolfe."""
  del key
  num_tasks = gram_TxT.shape[0]
  eye = jnp.eye(num_tasks, dtype=jnp.float32)

  def step(_: int, w_T: jax.Array) -> jax.Array:
    aw_T = gram_TxT @ w_T
    t = jnp.argmin(aw_T)
    ww, wt, tt = w_T @ aw_T, aw_T[t], gram_TxT[t, t]
    # min over γ of ‖γ g_w + (1 − γ) g_t‖²
    denom = ww + tt - 2.0 * wt
    gamma = jnp.where(denom > _TINY, jnp.clip((tt - wt) / jnp.maximum(denom, _TINY), 0.0, 1.0),
                      1.0)
    return gamma * w_T + (1.0 - gamma) * eye[t]

  return jax.lax.fori_loop(0, iterations, step,
                           jnp.full((num_tasks,), 1.0 / num_tasks, jnp.float32))


AGGREGATORS: dict[str, Callable[..., jax.Array]] = {
    "linear_scalarisation": linear_scalarisation, "pcgrad": pcgrad, "cagrad": cagrad,
    "imtl_g": imtl_g, "mgda": mgda}


def make_aggregator(name: str, **options: Any) -> Aggregator:
  """The aggregator called `name`, with its options (CAGrad's `c`) bound."""
  if name not in AGGREGATORS:
    raise ValueError(f"unknown aggregator {name!r}; choose one of {sorted(AGGREGATORS)}.")
  return functools.partial(AGGREGATORS[name], **options)
