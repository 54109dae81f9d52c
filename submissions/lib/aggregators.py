"""Multi-task gradient aggregators, each a rule turning T task gradients into one direction.

Every aggregator here returns weights w [T] with the direction d = Σ_k w_k g_k, computed from the
Gram matrix A = G Gᵀ [T, T] of the task gradients alone (g_i · g_j = A_ij), so its cost is
one pass over the gradients for A and one for the weighted sum, whatever the rule. Each is
checked step by step against a port of its authors' code in tests/reference/ (2, 3 and 12
tasks); every one keeps the scale of the mean task gradient where the authors' code uses the
sum of the task losses (1/T of their direction: an Adam-type base optimizer is invariant to it
up to its ε, measured in the reference tests):

- linear scalarisation: w_k = 1/T, the gradient of the mean task loss (the baseline; LibMTL's
  EW weighs each task 1, the sum).
- PCGrad (Yu et al. 2020, "Gradient Surgery for Multi-Task Learning", Alg. 1; the authors'
  tianheyu927/PCGrad `PCGrad_tf.py`): each g_i, visiting every task j (itself included, as in
  the authors' loop) in a random order, loses its component along g_j when they conflict,
  g_i ← g_i − (g_i·g_j)/‖g_j‖² g_j when g_i·g_j < 0; d is the mean of the projected gradients
  (the authors' code sums them; the mean keeps linear scalarisation's scale). The authors' TF
  code means to shuffle the order but discards the shuffle; the random order is the paper's.
- CAGrad (Liu et al. 2021, "Conflict-Averse Gradient Descent for Multi-task Learning", eq. 4
  and its dual; the authors' Cranial-XIX/CAGrad `nyuv2/utils.py`): w* = argmin over the
  simplex of g_w·g₀ + c‖g₀‖‖g_w‖ (g₀ the mean gradient, g_w = Σ w_k g_k; solved exactly as a
  bisection over min-norm problems, where the authors call SciPy's SLSQP), then
  d = (g₀ + c‖g₀‖/‖g_w‖ g_w) / (1 + c²), the authors' rescaling (`rescale=1`).
- IMTL-G (Liu et al. 2021, "Towards Impartial Multi-task Learning", §3.2; LibMTL's
  `weighting/IMTL.py`, the gradient half): weights summing to one whose d has equal
  projections on every unit task gradient u_k, from the closed form α₂…T = g₁Uᵀ(DUᵀ)⁻¹ with
  rows D_k = g₁ − g_k, U_k = u₁ − u_k.
- MGDA (Sener & Koltun 2018, "Multi-Task Learning as Multi-Objective Optimization", §3.1): the
  exact min-norm point of the convex hull of the task gradients, by Wolfe's (1976) min-norm
  point algorithm on A (a finite active-set method; capped iterations). The authors'
  `MinNormSolver` (isl-org/MultiObjectiveOptimization `min_norm_solvers.py`) approaches the
  same point by projected gradient steps and stops within 1e-5 (weight change); the reference
  test checks both. MGDA-UB's upper bound uses gradients with respect to a shared
  representation, which the step contract does not expose; this solves the same min-norm
  problem on the parameter gradients (the problem the bound approximates). The authors' code
  can normalise the task gradients first (off in the paper, 'loss+' in their sample config);
  the lab does not (LibMTL's default, `mgda_gn='none'`).

The Gram matrix and the weights are computed in float32, or in the gradients' dtype when it is
wider (float64 in the reference tests).
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
    g_TxP = g.reshape(g.shape[0], -1).astype(_solver_dtype(g.dtype))
    return g_TxP @ g_TxP.T
  return sum(leaf_gram(g) for g in jax.tree.leaves(task_grads))


def _solver_dtype(dtype: Any) -> Any:
  """float32, or a wider float dtype (float64 under jax_enable_x64)."""
  return jnp.promote_types(dtype, jnp.float32)


def combine(weights_T: jax.Array, task_grads: Any) -> Any:
  """Σ_k w_k g_k, leaf by leaf, in each leaf's dtype."""
  def weighted_sum(g: jax.Array) -> jax.Array:
    dtype = jnp.promote_types(_solver_dtype(g.dtype), weights_T.dtype)
    return jnp.tensordot(weights_T.astype(dtype), g.astype(dtype), axes=1).astype(g.dtype)
  return jax.tree.map(weighted_sum, task_grads)


def conflicting_pairs(gram_TxT: jax.Array) -> jax.Array:
  """How many task pairs i < j have g_i · g_j < 0."""
  upper = jnp.triu(jnp.ones_like(gram_TxT, dtype=bool), k=1)
  return jnp.sum((gram_TxT < 0) & upper).astype(jnp.int32)


def linear_scalarisation(gram_TxT: jax.Array, key: jax.Array) -> jax.Array:
  del key
  num_tasks = gram_TxT.shape[0]
  return jnp.full((num_tasks,), 1.0 / num_tasks, gram_TxT.dtype)


def pcgrad(gram_TxT: jax.Array, key: jax.Array) -> jax.Array:
  """PCGrad's weights: projected g_i = Σ_j C_ij g_j, tracked in coefficients C [T, T].

  Task i's order over the T tasks is `jax.random.permutation(fold_in(key, i), T)`; it visits
  itself too (a no-op unless earlier projections turned g_i against its original).
  """
  num_tasks = gram_TxT.shape[0]
  eye = jnp.eye(num_tasks, dtype=gram_TxT.dtype)

  def project_task(i: jax.Array, coefficients_T: jax.Array) -> jax.Array:
    order = jax.random.permutation(jax.random.fold_in(key, i), num_tasks)

    def project_onto(position: jax.Array, c_T: jax.Array) -> jax.Array:
      j = order[position]
      dot = c_T @ gram_TxT[:, j]  # (projected g_i) · g_j
      conflict = (dot < 0) & (gram_TxT[j, j] > _TINY)
      step = jnp.where(conflict, dot / jnp.maximum(gram_TxT[j, j], _TINY), 0.0)
      return c_T - step * eye[j]

    return jax.lax.fori_loop(0, num_tasks, project_onto, coefficients_T)

  coefficients_TxT = jax.vmap(project_task)(jnp.arange(num_tasks), eye)
  return coefficients_TxT.mean(axis=0)


def cagrad(gram_TxT: jax.Array, key: jax.Array, c: float = 0.4,
           bisections: int = 40) -> jax.Array:
  """CAGrad's weights: the dual's exact minimiser w*, found through min-norm problems.

  At w*, d = g₀ + s g_w with s = c‖g₀‖/‖g_w‖ (the dual's optimality condition), and w* gives
  the min-norm point of the hull of the shifted points g₀ + s g_k: the same KKT system. So
  w(s) = `min_norm_weights` of their Gram matrix ‖g₀‖² + s(b_i + b_j) + s² A_ij
  (b_k = g_k·g₀), and s is the root of s‖g_w(s)‖ = c‖g₀‖ (‖d(s) − g₀‖ grows with s):
  bisected in log s over [1e-6, 1e6] (A normalised to mean diagonal 1), `bisections` halvings.
  """
  del key
  num_tasks = gram_TxT.shape[0]
  scale = jnp.maximum(jnp.mean(jnp.diag(gram_TxT)), _TINY)
  a_TxT = gram_TxT / scale  # the minimiser w* is unchanged
  b_T = a_TxT.mean(axis=1)  # g_k · g₀
  g0_squared = jnp.maximum(b_T.mean(), 0.0)
  radius = c * jnp.sqrt(g0_squared)

  def weights_at(log_s: jax.Array) -> jax.Array:
    s = jnp.exp(log_s)
    return min_norm_weights(g0_squared + s * (b_T[:, None] + b_T[None, :]) + s * s * a_TxT)

  def gw_norm(w_T: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.maximum(w_T @ a_TxT @ w_T, 0.0))

  def bisect(_: int, bracket: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
    low, high = bracket
    middle = (low + high) / 2
    short = jnp.exp(middle) * gw_norm(weights_at(middle)) < radius
    return jnp.where(short, middle, low), jnp.where(short, high, middle)

  bracket = (jnp.log(jnp.asarray(1e-6, a_TxT.dtype)), jnp.log(jnp.asarray(1e6, a_TxT.dtype)))
  low, high = jax.lax.fori_loop(0, bisections, bisect, bracket)
  w_T = weights_at((low + high) / 2)
  lam = radius / jnp.maximum(gw_norm(w_T), _TINY)
  return (1.0 / num_tasks + lam * w_T) / (1.0 + c ** 2)


def imtl_g(gram_TxT: jax.Array, key: jax.Array) -> jax.Array:
  """IMTL-G's closed-form weights (task 0 as the reference task)."""
  del key
  num_tasks = gram_TxT.shape[0]
  if num_tasks == 1:
    return jnp.ones((1,), gram_TxT.dtype)
  norms_T = jnp.sqrt(jnp.maximum(jnp.diag(gram_TxT), _TINY))
  g_dot_u_TxT = gram_TxT / norms_T[None, :]  # g_i · u_j
  # (DUᵀ)_ij = (g₀ − g_i)·(u₀ − u_j), i, j ≥ 1; (g₀Uᵀ)_j = g₀·(u₀ − u_j)
  gu = g_dot_u_TxT
  du = gu[0, 0] - gu[0, 1:][None, :] - gu[1:, 0][:, None] + gu[1:, 1:]
  g0u = gu[0, 0] - gu[0, 1:]
  rest = g0u @ jnp.linalg.pinv(du)
  return jnp.concatenate([1.0 - rest.sum(keepdims=True), rest])


def _affine_min_norm(a_TxT: jax.Array, support_T: jax.Array) -> jax.Array:
  """The weights (summing to 1, zero off the support) of the min-norm point of the affine hull
  of the supported task gradients: the KKT system [A_SS 1; 1ᵀ 0] [w; −λ] = [0; 1], padded
  with the identity off the support so its shape is fixed."""
  num_tasks = a_TxT.shape[0]
  on_T = support_T.astype(a_TxT.dtype)
  kkt = jnp.zeros((num_tasks + 1, num_tasks + 1), a_TxT.dtype)
  kkt = kkt.at[:num_tasks, :num_tasks].set(
      jnp.where(support_T[:, None] & support_T[None, :], a_TxT, jnp.diag(1.0 - on_T)))
  kkt = kkt.at[:num_tasks, num_tasks].set(on_T).at[num_tasks, :num_tasks].set(on_T)
  rhs = jnp.zeros((num_tasks + 1,), a_TxT.dtype).at[num_tasks].set(1.0)
  return jnp.linalg.solve(kkt, rhs)[:num_tasks] * on_T


def mgda(gram_TxT: jax.Array, key: jax.Array, max_iterations: int | None = None) -> jax.Array:
  """MGDA's weights: the exact min-norm convex combination of the task gradients."""
  del key
  return min_norm_weights(gram_TxT, max_iterations)


def min_norm_weights(gram_TxT: jax.Array, max_iterations: int | None = None) -> jax.Array:
  """argmin over the simplex of wᵀAw, exactly, by Wolfe's min-norm point algorithm.

  Wolfe, "Finding the nearest point in a polytope" (Math. Programming 1976): keep a set S of
  tasks whose affine min-norm point has positive weights; add the task j minimising g_j·d while
  ‖d‖² − g_j·d exceeds a rounding tolerance (a major cycle), and where the affine point of the
  enlarged S leaves the simplex, move to its boundary and drop the task that reached weight 0
  (a minor cycle). It ends at the exact optimum in finitely many cycles (at most a few per
  task; `max_iterations`, default 10 T, caps the while loop).
  """
  num_tasks = gram_TxT.shape[0]
  a_TxT = gram_TxT / jnp.maximum(jnp.max(jnp.diag(gram_TxT)), _TINY)
  tolerance = 64 * jnp.finfo(a_TxT.dtype).eps  # on ‖d‖² − min_j g_j·d, with max ‖g_j‖² = 1
  max_iterations = 10 * num_tasks if max_iterations is None else max_iterations
  tasks_T = jnp.arange(num_tasks)
  start_T = jax.nn.one_hot(jnp.argmin(jnp.diag(a_TxT)), num_tasks, dtype=a_TxT.dtype)

  def running(carry: tuple[jax.Array, ...]) -> jax.Array:
    iteration, _, _, done = carry
    return ~done & (iteration < max_iterations)

  def cycle(carry: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
    iteration, w_T, support_T, _ = carry
    v_T = _affine_min_norm(a_TxT, support_T)
    inside = jnp.all(jnp.where(support_T, v_T > 0, True))
    # Major cycle (v inside the simplex): v is the corral's point; add the best task, or stop.
    av_T = jnp.where(support_T, jnp.inf, a_TxT @ v_T)
    entering = jnp.argmin(av_T)
    optimal = inside & ~(v_T @ a_TxT @ v_T - av_T[entering] > tolerance)
    major_support_T = support_T | ((tasks_T == entering) & ~optimal)
    # Minor cycle: the furthest point from w towards v that stays in the simplex; the task
    # whose weight reaches 0 there leaves S.
    ratio_T = jnp.where(support_T & (v_T <= 0), w_T / jnp.maximum(w_T - v_T, _TINY), jnp.inf)
    leaving = jnp.argmin(ratio_T)
    minor_w_T = w_T + jnp.clip(ratio_T[leaving], 0.0, 1.0) * (v_T - w_T)
    dropped_T = (support_T & (minor_w_T <= 0)) | (tasks_T == leaving)
    minor_w_T = jnp.where(dropped_T, 0.0, minor_w_T)
    return (iteration + 1, jnp.where(inside, v_T, minor_w_T),
            jnp.where(inside, major_support_T, support_T & ~dropped_T), optimal)

  _, w_T, _, _ = jax.lax.while_loop(running, cycle,
                                    (jnp.zeros([], jnp.int32), start_T, start_T > 0,
                                     jnp.zeros([], bool)))
  return w_T


AGGREGATORS: dict[str, Callable[..., jax.Array]] = {
    "linear_scalarisation": linear_scalarisation, "pcgrad": pcgrad, "cagrad": cagrad,
    "imtl_g": imtl_g, "mgda": mgda}


def make_aggregator(name: str, **options: Any) -> Aggregator:
  """The aggregator called `name`, with its options (CAGrad's `c`) bound."""
  if name not in AGGREGATORS:
    raise ValueError(f"unknown aggregator {name!r}; choose one of {sorted(AGGREGATORS)}.")
  return functools.partial(AGGREGATORS[name], **options)
