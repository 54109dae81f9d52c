"""PCGrad (submissions/mtl/pcgrad.py) beside the authors' TF code (tests/reference/ports/
mtl_weighting.py `pcgrad`, tianheyu927/PCGrad PCGrad_tf.py) composed with the numpy AdamW,
on the 2, 3 and 12-task toy of tests/reference/mtl_aggregators.py.

The task order: the lab draws task i's order from its step key (aggregators.pcgrad);
`mtl_aggregators.lab_pcgrad_orders` recomputes the same permutations with jax.random and hands
them to the port in place of the authors' loop order. The authors sum the projected gradients;
the lab takes their mean (the submission's docstring says why), so the port's direction is
scaled by 1/T before AdamW. RTOL = 1e-12; measured 2026-12-05 over 30 steps: 5.8e-17
(2 tasks), 8.9e-17 (3), 1.3e-17 (12); before the Gram matrix followed the gradients' dtype
(it was float32) 5.8e-9 / 2.0e-9 / 5.7e-9. The authors' sum scale would move the AdamW
trajectory by 5.6e-9 / 1.6e-8 / 1.5e-9 (AdamW's ε only).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from submissions.lib import aggregators, mtl
from tests.reference import mtl_aggregators
from tests.reference.ports import mtl_weighting as port

COVERS = ["submissions/mtl/pcgrad.py"]
RTOL = 1e-12


def _authors_direction(grads_TxP: np.ndarray, step: int) -> np.ndarray:
  return port.pcgrad(grads_TxP, mtl_aggregators.lab_pcgrad_orders(step, len(grads_TxP)))


@pytest.mark.parametrize("num_tasks", mtl_aggregators.TASK_COUNTS)
def test_matches_the_authors_pcgrad(num_tasks):
  mtl_aggregators.check_problem(num_tasks)
  worst = mtl_aggregators.compare(COVERS[0], num_tasks, _authors_direction, RTOL,
                                  lab_scale=1.0 / num_tasks)
  assert worst <= RTOL


def test_the_aggregator_matches_the_authors_step_where_a_task_meets_itself():
  # The authors' loop visits every task, the task itself included; that projection acts when
  # earlier ones turned g_i against its own original. Random 3-task problems in the plane:
  # the lab's weights give the port's direction (1/T of it) in all, and in some the
  # self-projection changes the answer (checked by the port without it).
  rng = np.random.default_rng(0)
  acted, pcgrad = 0, jax.jit(aggregators.pcgrad)
  for trial in range(200):
    g_TxP = rng.normal(size=(3, 2))
    orders = mtl_aggregators.lab_pcgrad_orders(trial, 3)
    weights_T = pcgrad(jnp.asarray(g_TxP @ g_TxP.T), mtl.step_key(0, trial))
    expected = port.pcgrad(g_TxP, orders) / 3
    np.testing.assert_allclose(np.asarray(weights_T) @ g_TxP, expected, rtol=1e-5, atol=1e-6)
    others = [order[order != i] for i, order in enumerate(orders)]
    acted += not np.allclose(port.pcgrad(g_TxP, others) / 3, expected)
  print(f"self-projection acted in {acted} of 200")
  assert acted > 0

