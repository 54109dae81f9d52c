"""numpy ports of the multi-task gradient aggregators' reference code, for
tests/reference/{linear_scalarisation,pcgrad,cagrad,imtl_g,mgda}_test.py.

Each function takes the task gradients G [T, P] (flat, float64) and returns the direction the
authors' code writes into the shared parameters' `.grad`, at the authors' scale. Ported line by
line from:

- `equal_weighting`: median-research-group/LibMTL, commit
  4336804847eaa5e0b924b743d76beec7ac3fdc97, LibMTL/weighting/EW.py (`EW.backward`: the
  losses summed with weight 1 each; the gradient of that sum is Σ_k g_k).
- `pcgrad`: tianheyu927/PCGrad (the paper's authors), commit
  c5fbd7c856526373828074f06875230f7f3ee79e, PCGrad_tf.py (`PCGrad.compute_gradients`,
  `proj_grad`): for each task, every task k (itself included) in turn, the projection
  g ← g − min(g·g_k / ‖g_k‖², 0) g_k, and the projected gradients summed. Their
  `tf.random.shuffle(loss)` discards its result, so their loop runs in task order; the paper's
  Alg. 1 (and LibMTL's and WeiChengTseng/Pytorch-PCGrad's ports) shuffle per task. The order is
  a parameter here (`orders[i]`, task i's order), so the test can hand the port the lab's.
- `cagrad`: Cranial-XIX/CAGrad (the paper's authors), commit
  dc3d48152b6196945cfd56144879b9d42353b095, nyuv2/utils.py (`cagrad`, with `rescale=1` as
  their training loop calls it, and `overwrite_grad`'s `newgrad * 3`, "to match the sum loss"):
  the weights by SciPy's SLSQP (`minimize` with bounds and an equality constraint, SciPy's
  default tolerances), their 3 tasks written as T (LibMTL's CAGrad.py does the same).
  `solver_options` reaches `minimize(options=...)` (None: the authors' defaults).
- `imtl_g`: LibMTL (commit above), LibMTL/weighting/IMTL.py (`IMTL.backward`), the gradient
  part: α from g₁Uᵀ(DUᵀ)⁻¹ and Σ α_k g_k. LibMTL's IMTL is the hybrid IMTL-L + IMTL-G (task
  losses scaled by learnt e^{s_k}); the lab's submission is IMTL-G, so s stays 0 (e^0 = 1)
  here. The IMTL authors released no code.
- `min_norm_solver`: isl-org/MultiObjectiveOptimization (Sener & Koltun), commit
  bf5bbb30371489a47f6440691d8934b70f7dfc3b, multi_task/min_norm_solvers.py
  (`MinNormSolver.find_min_norm_element`: the best pair, then projected-gradient steps with
  exact line search until the weights move less than STOP_CRIT = 1e-5 in ℓ1). Their loop
  never increments `iter_count`; LibMTL's MGDA.py adds the increment (MAX_ITER = 250), kept
  here so the loop ends. `min_norm_exhaustive` is not the authors': the exact min-norm point
  by trying every support (the test's exact answer).
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import minimize


def equal_weighting(grads_TxP: np.ndarray) -> np.ndarray:
  """EW: the gradient of Σ_k L_k."""
  losses_weight = np.ones(len(grads_TxP))  # torch.ones_like(losses)
  return losses_weight @ grads_TxP


def pcgrad(grads_TxP: np.ndarray, orders: list[np.ndarray]) -> np.ndarray:
  """PCGrad_tf.py: each task's gradient projected off every conflicting one, then summed."""
  num_tasks = len(grads_TxP)

  def proj_grad(i: int, grad_task: np.ndarray) -> np.ndarray:
    for k in orders[i]:  # `for k in range(num_tasks)` in their (unshuffled) loop
      inner_product = np.sum(grad_task * grads_TxP[k])
      proj_direction = inner_product / np.sum(grads_TxP[k] * grads_TxP[k])
      grad_task = grad_task - np.minimum(proj_direction, 0.0) * grads_TxP[k]
    return grad_task

  proj_grads_flatten = [proj_grad(i, grads_TxP[i]) for i in range(num_tasks)]
  return np.sum(proj_grads_flatten, axis=0)


def cagrad(grads_TxP: np.ndarray, alpha: float = 0.5, rescale: int = 1,
           solver_options: dict | None = None) -> np.ndarray:
  """nyuv2/utils.py `cagrad` and `overwrite_grad`'s rescaling to the sum of the task losses."""
  num_tasks = len(grads_TxP)
  grads = grads_TxP.T  # theirs is [dim, num_tasks]
  GG = grads.T @ grads  # noqa: N806  [num_tasks, num_tasks]
  g0_norm = np.sqrt(GG.mean() + 1e-8)  # norm of the average gradient

  x_start = np.ones(num_tasks) / num_tasks
  bnds = tuple((0, 1) for x in x_start)
  cons = ({'type': 'eq', 'fun': lambda x: 1 - sum(x)})
  A = GG  # noqa: N806
  b = x_start.copy()
  c = alpha * g0_norm + 1e-8

  def objfn(x):
    return (x.reshape(1, num_tasks).dot(A).dot(b.reshape(num_tasks, 1))
            + c * np.sqrt(x.reshape(1, num_tasks).dot(A).dot(x.reshape(num_tasks, 1))
                          + 1e-8)).sum()

  res = minimize(objfn, x_start, bounds=bnds, constraints=cons,
                 **({} if solver_options is None else {"options": solver_options}))
  w_cpu = res.x
  gw = (grads * w_cpu.reshape(1, -1)).sum(1)
  gw_norm = np.linalg.norm(gw)
  lmbda = c / (gw_norm + 1e-8)
  g = grads.mean(1) + lmbda * gw
  if rescale == 0:
    new_grad = g
  elif rescale == 1:
    new_grad = g / (1 + alpha ** 2)
  else:
    new_grad = g / (1 + alpha)
  return new_grad * num_tasks  # overwrite_grad: `newgrad * 3`, to match the sum loss


def imtl_g(grads_TxP: np.ndarray) -> np.ndarray:
  """IMTL.py's weights α (summing to 1) and the direction Σ α_k g_k."""
  num_tasks = len(grads_TxP)
  grads = grads_TxP
  grads_unit = grads / np.linalg.norm(grads, ord=2, axis=-1, keepdims=True)

  D = np.repeat(grads[0:1], num_tasks - 1, axis=0) - grads[1:]  # noqa: N806
  U = np.repeat(grads_unit[0:1], num_tasks - 1, axis=0) - grads_unit[1:]  # noqa: N806

  alpha = (grads[0] @ U.T) @ np.linalg.inv(D @ U.T)
  alpha = np.concatenate([[1 - alpha.sum()], alpha])
  return alpha @ grads


class MinNormSolver:
  """min_norm_solvers.py's MinNormSolver on a precomputed Gram matrix (their `dps`)."""

  MAX_ITER = 250
  STOP_CRIT = 1e-5

  @staticmethod
  def _min_norm_element_from2(v1v1, v1v2, v2v2):
    if v1v2 >= v1v1:
      gamma = 0.999
      cost = v1v1
      return gamma, cost
    if v1v2 >= v2v2:
      gamma = 0.001
      cost = v2v2
      return gamma, cost
    gamma = -1.0 * ((v1v2 - v2v2) / (v1v1 + v2v2 - 2 * v1v2))
    cost = v2v2 + gamma * (v1v2 - v2v2)
    return gamma, cost

  @staticmethod
  def _min_norm_2d(dps):
    dmin = 1e8
    n = len(dps)
    for i in range(n):
      for j in range(i + 1, n):
        c, d = MinNormSolver._min_norm_element_from2(dps[i, i], dps[i, j], dps[j, j])
        if d < dmin:
          dmin = d
          sol = [(i, j), c, d]
    return sol

  @staticmethod
  def _projection2simplex(y):
    m = len(y)
    sorted_y = np.flip(np.sort(y), axis=0)
    tmpsum = 0.0
    tmax_f = (np.sum(y) - 1.0) / m
    for i in range(m - 1):
      tmpsum += sorted_y[i]
      tmax = (tmpsum - 1) / (i + 1.0)
      if tmax > sorted_y[i + 1]:
        tmax_f = tmax
        break
    return np.maximum(y - tmax_f, np.zeros(y.shape))

  @staticmethod
  def _next_point(cur_val, grad, n):
    proj_grad = grad - (np.sum(grad) / n)
    tm1 = -1.0 * cur_val[proj_grad < 0] / proj_grad[proj_grad < 0]
    tm2 = (1.0 - cur_val[proj_grad > 0]) / (proj_grad[proj_grad > 0])

    t = 1
    if len(tm1[tm1 > 1e-7]) > 0:
      t = np.min(tm1[tm1 > 1e-7])
    if len(tm2[tm2 > 1e-7]) > 0:
      t = min(t, np.min(tm2[tm2 > 1e-7]))

    next_point = proj_grad * t + cur_val
    next_point = MinNormSolver._projection2simplex(next_point)
    return next_point

  @staticmethod
  def find_min_norm_element(grad_mat):
    """The weights of the min-norm point (their first return value)."""
    init_sol = MinNormSolver._min_norm_2d(grad_mat)

    n = len(grad_mat)
    sol_vec = np.zeros(n)
    sol_vec[init_sol[0][0]] = init_sol[1]
    sol_vec[init_sol[0][1]] = 1 - init_sol[1]

    if n < 3:
      # This is optimal for n=2, so return the solution
      return sol_vec

    iter_count = 0
    while iter_count < MinNormSolver.MAX_ITER:
      grad_dir = -1.0 * np.dot(grad_mat, sol_vec)
      new_point = MinNormSolver._next_point(sol_vec, grad_dir, n)
      v1v1 = sol_vec @ grad_mat @ sol_vec
      v1v2 = sol_vec @ grad_mat @ new_point
      v2v2 = new_point @ grad_mat @ new_point
      nc, _ = MinNormSolver._min_norm_element_from2(v1v1, v1v2, v2v2)
      new_sol_vec = nc * sol_vec + (1 - nc) * new_point
      change = new_sol_vec - sol_vec
      if np.sum(np.abs(change)) < MinNormSolver.STOP_CRIT:
        return sol_vec
      sol_vec = new_sol_vec
      iter_count += 1  # LibMTL's MGDA.py; missing in min_norm_solvers.py
    return sol_vec


def min_norm_solver(grads_TxP: np.ndarray) -> np.ndarray:
  """train_multi_task.py's MGDA step (normalization 'none'): Σ_k sol_k g_k."""
  return MinNormSolver.find_min_norm_element(grads_TxP @ grads_TxP.T) @ grads_TxP


def min_norm_exhaustive(grads_TxP: np.ndarray) -> np.ndarray:
  """The exact min-norm point of the convex hull: over every support S, the affine min-norm
  point of the g_k in S (KKT system [A_SS 1; 1ᵀ 0]), kept when its weights are ≥ 0; the
  smallest such point (2^T − 1 supports)."""
  gram = grads_TxP @ grads_TxP.T
  num_tasks = len(gram)
  best_norm, best_point = np.inf, None
  for size in range(1, num_tasks + 1):
    for support in itertools.combinations(range(num_tasks), size):
      rows = list(support)
      kkt = np.block([[gram[np.ix_(rows, rows)], np.ones((size, 1))],
                      [np.ones((1, size)), np.zeros((1, 1))]])
      if np.linalg.cond(kkt) > 1e12:
        continue
      weights = np.linalg.solve(kkt, np.r_[np.zeros(size), 1.0])[:size]
      if np.any(weights < 0):
        continue
      point = weights @ grads_TxP[rows]
      if point @ point < best_norm:
        best_norm, best_point = point @ point, point
  return best_point
