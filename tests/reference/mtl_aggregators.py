"""What the aggregator reference tests share (linear_scalarisation, pcgrad, cagrad, imtl_g, mgda).

The problem: 2, 3 and 12-task least squares through one shared linear layer (a [F, H] kernel
and an [H] bias, 21 parameters) read out by a fixed vector per task; task k's target map flips
sign with k around a common one and its scale grows with k, so the task gradients conflict and
differ in size (checked). The lab runs the submission's own optimizer (its make_optimizer from
its HPARAMS) for REFERENCE_STEPS in float64; the reference steps the same numpy AdamW (the
lab's base optimizer, tests/reference/ports/sam.py) with the port's direction.

Every port returns the authors' direction at the authors' scale; `lab_scale` (1/T for the
ports that sum the task losses) is the lab's documented choice of the mean, applied before the
AdamW port so that the comparison checks the rule itself. The tests also report how far the
authors' own scale moves the trajectory (through AdamW's ε only).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from tests.reference import common
from tests.reference.ports import sam as sam_port

NUM_EXAMPLES, NUM_FEATURES, HIDDEN = 16, 6, 3
TASK_COUNTS = (2, 3, 12)

# (task gradients [T, P], step) -> direction [P]
Direction = Callable[[np.ndarray, int], np.ndarray]


def make_problem(num_tasks: int, seed: int = 0) -> tuple[dict, np.ndarray, np.ndarray,
                                                         np.ndarray]:
  """Initial params, inputs X [n, F], readouts V [H, T] and targets Y [n, T]."""
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(NUM_EXAMPLES, NUM_FEATURES))
  common_map = rng.normal(size=(NUM_FEATURES,))
  signs = np.where(np.arange(num_tasks) % 2 == 0, 1.0, -1.0)
  scales = 1.0 + np.arange(num_tasks) / 4.0
  maps = scales * (signs * common_map[:, None] + 0.5 * rng.normal(size=(NUM_FEATURES, num_tasks)))
  readouts = rng.normal(size=(HIDDEN, num_tasks))
  params = {"kernel": 0.5 * rng.normal(size=(NUM_FEATURES, HIDDEN)),
            "bias": 0.1 * rng.normal(size=(HIDDEN,))}
  return params, x, readouts, x @ maps


def lab_task_losses(params: dict, x: np.ndarray, readouts: np.ndarray,
                    y: np.ndarray) -> jax.Array:
  """[T]: ½ mean over examples of task k's squared error."""
  outputs = (x @ params["kernel"] + params["bias"][None, :]) @ readouts
  return 0.5 * jnp.mean((outputs - y) ** 2, axis=0)


def flatten(params: dict) -> np.ndarray:
  return np.concatenate([params["kernel"].ravel(), params["bias"]])


def unflatten(flat: np.ndarray) -> dict:
  size = NUM_FEATURES * HIDDEN
  return {"bias": flat[size:], "kernel": flat[:size].reshape(NUM_FEATURES, HIDDEN)}


def task_gradients(flat: np.ndarray, x: np.ndarray, readouts: np.ndarray,
                   y: np.ndarray) -> np.ndarray:
  """[T, P]: each task's loss differentiated by hand."""
  params = unflatten(flat)
  residual_NxT = (x @ params["kernel"] + params["bias"]) @ readouts - y
  d_output_NxT = residual_NxT / len(residual_NxT)
  kernel_TxFxH = np.einsum("nf,nt,ht->tfh", x, d_output_NxT, readouts)
  bias_TxH = d_output_NxT.sum(axis=0)[:, None] * readouts.T
  return np.concatenate([kernel_TxFxH.reshape(len(bias_TxH), -1), bias_TxH], axis=1)


def lab_pcgrad_orders(step: int, num_tasks: int, seed: int = 0) -> list[np.ndarray]:
  """The order aggregators.pcgrad visits the tasks in for each task i at `step`: the key of
  submissions/lib/mtl.py `step_key(seed, step)` folded with i. Update with those functions."""
  key = jax.random.fold_in(jax.random.PRNGKey(seed), step)
  return [np.asarray(jax.random.permutation(jax.random.fold_in(key, i), num_tasks))
          for i in range(num_tasks)]


def run_lab(path: str, num_tasks: int, **overrides) -> list[dict]:
  """The submission's optimizer from its HPARAMS (plus `overrides`), REFERENCE_STEPS steps."""
  params, x, readouts, y = make_problem(num_tasks)
  module = common.submission_module(path)
  workload = common.ToyWorkload(params=params, num_tasks=num_tasks)
  with common.float64():
    task_losses = lambda p: lab_task_losses(p, x, readouts, y)  # noqa: E731
    return common.run_lab(common.lab_optimizer(module, workload, **overrides), params,
                          lambda p: jnp.mean(task_losses(p)), common.REFERENCE_STEPS,
                          task_losses_fn=task_losses).iterates


def run_reference(path: str, num_tasks: int, direction: Direction,
                  lab_scale: float = 1.0) -> list[dict]:
  """AdamW (the submission's HPARAMS) stepped with `lab_scale` × the port's direction."""
  params, x, readouts, y = make_problem(num_tasks)
  base = sam_port.AdamW.from_hparams(common.submission_module(path).HPARAMS,
                                     common.ToyWorkload(params).step_hint)
  flat = {"theta": flatten(params)}
  iterates = []
  for step in range(common.REFERENCE_STEPS):
    grads_TxP = task_gradients(flat["theta"], x, readouts, y)
    flat = base.step(flat, {"theta": lab_scale * direction(grads_TxP, step)})
    iterates.append(unflatten(flat["theta"]))
  return iterates


def compare(path: str, num_tasks: int, direction: Direction, rtol: float,
            lab_scale: float = 1.0, **overrides) -> float:
  lab = run_lab(path, num_tasks, **overrides)
  reference = run_reference(path, num_tasks, direction, lab_scale)
  worst = common.assert_trajectories_match(lab, reference, rtol)
  print(f"{path} T={num_tasks}: max relative difference {worst:.3g}")
  return worst


def scale_effect(path: str, num_tasks: int, direction: Direction) -> float:
  """How far the authors' sum scale (no 1/T) moves the AdamW trajectory from the mean's."""
  mean = run_reference(path, num_tasks, direction, 1.0 / num_tasks)
  total = run_reference(path, num_tasks, direction, 1.0)
  return common.max_relative_difference(mean, total)


def check_problem(num_tasks: int) -> None:
  """The hand gradients are jax's, and the tasks conflict."""
  params, x, readouts, y = make_problem(num_tasks)
  with common.float64():
    jacobian = jax.jacrev(lambda p: lab_task_losses(p, x, readouts, y))(params)
  grads_TxP = task_gradients(flatten(params), x, readouts, y)
  expected = np.concatenate([np.asarray(jacobian["kernel"]).reshape(num_tasks, -1),
                             np.asarray(jacobian["bias"])], axis=1)
  np.testing.assert_allclose(grads_TxP, expected, rtol=1e-10, atol=1e-14)
  assert (grads_TxP @ grads_TxP.T < 0).any(), "the toy's task gradients should conflict"
