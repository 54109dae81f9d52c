"""SAM (submissions/sam/sam.py) beside the authors' JAX code (tests/reference/ports/sam.py).

The lab's optimizer from the submission's own HPARAMS runs 30 steps on a log-cosh regression
with a weight matrix and a bias (float64, the same batch every step); the port takes the
authors' SAM gradient and feeds it to a numpy AdamW with the same HPARAMS (the lab's base).
Measured 2026-12-05: max relative difference of the iterates 1.7e-16 over 30 steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from tests.reference import common
from tests.reference.ports import sam as sam_port

COVERS = ["submissions/sam/sam.py"]
RTOL = 1e-12  # float64 rounding only: both compute ε = ρ g/‖g‖ (the lab adds 1e-12 to ‖g‖)

_RNG = np.random.default_rng(0)
X = _RNG.normal(size=(16, 4))
Y = _RNG.normal(size=(16, 3)) + X @ _RNG.normal(size=(4, 3))
INITIAL = {"w": 0.5 * _RNG.normal(size=(4, 3)), "b": _RNG.normal(size=(3,))}


def log_cosh_loss(xp, params):
  """mean over examples and outputs of log cosh(X w + b − Y); `xp` is numpy or jax.numpy."""
  residual = X @ params["w"] + params["b"][None, :] - Y
  return xp.mean(xp.log(xp.cosh(residual)))


def log_cosh_grad(params: dict) -> dict:
  """The gradient of `log_cosh_loss`, written out in numpy for the port."""
  residual = X @ params["w"] + params["b"][None, :] - Y
  d_residual = np.tanh(residual) / residual.size
  return {"w": X.T @ d_residual, "b": d_residual.sum(axis=0)}


def run_reference(hparams: dict, step_hint: int, steps: int) -> list[dict]:
  params = {k: v.copy() for k, v in INITIAL.items()}
  base = sam_port.AdamW.from_hparams(hparams, step_hint)
  iterates = []
  for _ in range(steps):
    params = base.step(params, sam_port.sam_gradient(params, log_cosh_grad, hparams["rho"]))
    iterates.append(params)
  return iterates


def test_the_port_differentiates_the_same_loss():
  with common.float64():
    want = jax.grad(lambda p: log_cosh_loss(jnp, p))(INITIAL)
  for key, got in log_cosh_grad(INITIAL).items():
    np.testing.assert_allclose(got, np.asarray(want[key]), rtol=1e-12)


def test_log_cosh_regression_matches_the_authors_sam():
  module = common.submission_module("submissions/sam/sam.py")
  workload = common.ToyWorkload(params=INITIAL)
  with common.float64():
    lab = common.run_lab(common.lab_optimizer(module, workload), INITIAL,
                         lambda p: log_cosh_loss(jnp, p), common.REFERENCE_STEPS)
  reference = run_reference(module.HPARAMS, workload.step_hint, common.REFERENCE_STEPS)
  worst = common.assert_trajectories_match(lab.iterates, reference, RTOL)
  print(f"sam: max relative difference {worst:.3g}")
