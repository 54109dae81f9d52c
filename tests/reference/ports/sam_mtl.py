"""numpy port of SAM-MTL's step, for tests/reference/sam_mtl_test.py.

Ported line by line, in float64, from VietHoang1512/FS-MTL (the authors' code of Phan et al.,
arXiv:2211.13723), commit 1371ec52881af57c2970dfdc4ac7acc0e6437cc9: the "SAM, stage 1",
"SAM, stage 2" and `--method pcgrad` / `--method cagrad` blocks of the training loop in
nyuv2/train.py (city2scape/train.py has the same block), and `PCGrad` and `CAGrad` of
nyuv2/mtl.py. Defaults kept: adaptive True, rho 2, c 0.4, PCGrad's reduction "sum",
CAGrad's rescale 1.

The model is split as theirs is: `shared` parameters (their `model.segnet` minus the heads)
and one head per task (`pred_task{k+1}`). `task_grad(k, shared, head)` stands for
`losses[k].backward()`: task k's gradients with respect to the shared parameters and to its
own head. The step returns the gradients their loop leaves in `param.grad` before
`optimizer.step()`; the test steps the lab's base optimizer (ports/sam.py's numpy AdamW) with
them, where the authors step Adam.

Two things are made explicit rather than global: `PCGrad`'s `random.shuffle` is a parameter
(the test passes the task order the lab's PRNG draws, so both see the same order), and
`CAGrad`'s weights stay float64 where `torch.Tensor(res.x)` makes them float32 (a dtype
artefact of the port's framework, not of the method).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize

Params = dict[str, np.ndarray]
TaskGrad = Callable[[int, Params, Params], tuple[Params, Params]]
Shuffle = Callable[[list], None]


def pcgrad(grads: list[list[np.ndarray]], reduction: str = "sum",
           shuffle: Shuffle = random.shuffle) -> list[np.ndarray]:
  """nyuv2/mtl.py `PCGrad`: each task's gradient projected off the others it conflicts with."""
  pc_grad = copy.deepcopy(grads)
  for g_i in pc_grad:
    shuffle(grads)
    for g_j in grads:
      g_i_g_j = sum(np.dot(np.ravel(grad_i), np.ravel(grad_j))
                    for grad_i, grad_j in zip(g_i, g_j))
      if g_i_g_j < 0:
        g_j_norm_square = np.linalg.norm(np.concatenate([np.ravel(g) for g in g_j])) ** 2
        for grad_i, grad_j in zip(g_i, g_j):
          grad_i -= g_i_g_j * grad_j / g_j_norm_square

  merged_grad = [sum(g) for g in zip(*pc_grad)]
  if reduction == "mean":
    merged_grad = [g / len(grads) for g in merged_grad]
  return merged_grad


def cagrad(grads: np.ndarray, alpha: float = 0.5, rescale: int = 1) -> np.ndarray:
  """nyuv2/mtl.py `CAGrad` on stacked flat gradients [T, P] (SciPy's SLSQP for the weights)."""
  n_tasks = len(grads)
  grads = grads.T

  GG = grads.T @ grads  # [num_tasks, num_tasks]  # noqa: N806
  g0_norm = np.sqrt(GG.mean() + 1e-8)  # norm of the average gradient

  x_start = np.ones(n_tasks) / n_tasks
  bnds = tuple((0, 1) for x in x_start)
  cons = {"type": "eq", "fun": lambda x: 1 - sum(x)}
  A = GG  # noqa: N806
  b = x_start.copy()
  c = alpha * g0_norm + 1e-8

  def objfn(x):
    return (x.reshape(1, n_tasks).dot(A).dot(b.reshape(n_tasks, 1))
            + c * np.sqrt(x.reshape(1, n_tasks).dot(A).dot(x.reshape(n_tasks, 1)) + 1e-8)
            ).sum()

  res = minimize(objfn, x_start, bounds=bnds, constraints=cons)
  ww = res.x
  gw = (grads * ww.reshape(1, -1)).sum(1)
  gw_norm = np.linalg.norm(gw)
  lmbda = c / (gw_norm + 1e-8)
  g = grads.mean(1) + lmbda * gw
  if rescale == 0:
    return g
  if rescale == 1:
    return g / (1 + alpha ** 2)
  return g / (1 + alpha)


def sam_mtl_gradients(shared: Params, heads: list[Params], task_grad: TaskGrad,
                      rho: float = 2.0, adaptive: bool = True, method: str = "pcgrad",
                      c: float = 0.4, shuffles: tuple[Shuffle, Shuffle] = (random.shuffle,
                                                                          random.shuffle)
                      ) -> tuple[Params, list[Params]]:
  """The gradients the authors' loop leaves for `optimizer.step()`: (shared, per-task heads).

  `shuffles` are PCGrad's shuffles for the task components and for the flat components.
  """
  tasks = list(range(len(heads)))
  shared_names = list(shared)

  # ---- SAM, stage 1 ----
  epsilon_weights = {"rep": {}}
  old_weights = {"rep": []}
  shared_g = {}
  for task in tasks:
    shared_grad, head_grad = task_grad(task, shared, heads[task])
    shared_norms = []
    epsilon_weights["rep"][task] = []
    task_norms = []
    old_weights[task] = []
    epsilon_weights[task] = []
    shared_g[task] = []

    for name, param in heads[task].items():
      task_norms.append(np.linalg.norm((np.abs(param) if adaptive else 1.0) * head_grad[name]))
      old_weights[task].append(param.copy())
      ew = ((np.power(param, 2) if adaptive else 1.0) * head_grad[name]).copy()
      epsilon_weights[task].append(ew)
    for name in shared_names:
      param = shared[name]
      shared_norms.append(np.linalg.norm((np.abs(param) if adaptive else 1.0)
                                         * shared_grad[name]))
      shared_g[task].append(shared_grad[name].copy())
      ew = ((np.power(param, 2) if adaptive else 1.0) * shared_grad[name]).copy()
      epsilon_weights["rep"][task].append(ew)
      if task == 0:
        old_weights["rep"].append(param.copy())

    task_norm = np.linalg.norm(np.stack(task_norms))
    task_scale = rho / (task_norm + 1e-12)
    epsilon_weights[task] = [epsilon_weight * task_scale
                             for epsilon_weight in epsilon_weights[task]]

    shared_norm = np.linalg.norm(np.stack(shared_norms))
    shared_scale = rho / (shared_norm + 1e-12)
    epsilon_weights["rep"][task] = [epsilon_weight * shared_scale
                                    for epsilon_weight in epsilon_weights["rep"][task]]

  # ---- SAM, stage 2 ----
  sam_gradient = {}
  head_grads = []
  for task in tasks:
    perturbed_shared = {name: old_weights["rep"][i] + epsilon_weights["rep"][task][i]
                        for i, name in enumerate(shared_names)}
    perturbed_head = {name: old_weights[task][i] + epsilon_weights[task][i]
                      for i, name in enumerate(heads[task])}
    shared_grad, head_grad = task_grad(task, perturbed_shared, perturbed_head)
    head_grads.append(head_grad)  # a head's param.grad: its own task's SAM gradient
    sam_gradient[task] = [shared_grad[name].copy() for name in shared_names]

  if method == "pcgrad":
    shared_h = {task: [sam_gradient[task][i] - shared_g[task][i]
                       for i in range(len(shared_names))] for task in tasks}
    merged_g = pcgrad([shared_g[task] for task in tasks], shuffle=shuffles[0])
    merged_h = pcgrad([shared_h[task] for task in tasks], shuffle=shuffles[1])
    grads = {name: merged_g[i] + merged_h[i] for i, name in enumerate(shared_names)}
  elif method == "cagrad":
    flat_g = {task: np.concatenate([np.ravel(g) for g in shared_g[task]]) for task in tasks}
    flat_h = {task: np.concatenate([np.ravel(s) - np.ravel(g)
                                    for s, g in zip(sam_gradient[task], shared_g[task])])
              for task in tasks}
    merged_g = cagrad(np.stack([flat_g[task] for task in tasks]), c)
    merged_h = cagrad(np.stack([flat_h[task] for task in tasks]), c)
    grads, total_length = {}, 0
    for name in shared_names:
      length = shared[name].size
      grads[name] = (merged_g[total_length:total_length + length]
                     + merged_h[total_length:total_length + length]).reshape(shared[name].shape)
      total_length += length
  else:
    raise ValueError(f"method {method!r} is not ported")
  return grads, head_grads
