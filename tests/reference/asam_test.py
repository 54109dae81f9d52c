"""ASAM (submissions/sam/asam.py) beside the authors' code (tests/reference/ports/asam.py).

The lab's optimizer from the submission's own HPARAMS runs 30 steps on the log-cosh regression
of tests/reference/sam_test.py, whose parameters are a weight matrix ("w", AlgoPerf type
WEIGHT, PyTorch name "linear.weight") and a bias ("b", BIAS, "linear.bias"); the port runs
the authors' ascent and descent steps around a numpy AdamW with the same HPARAMS.
Measured 2026-12-05: max relative difference of the iterates 2.2e-16 over 30 steps. Before the
fix (T_w on every leaf, the bias included) the same run differed by 1.6e-2.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from submissions.baselines import adamw
from submissions.lib import asam, sam
from tests.reference import common
from tests.reference.ports import asam as asam_port
from tests.reference.ports import sam as sam_port
from tests.reference.sam_test import INITIAL, log_cosh_grad, log_cosh_loss

COVERS = ["submissions/sam/asam.py"]
RTOL = 1e-12  # float64 rounding only
TORCH_NAMES = {"w": "linear.weight", "b": "linear.bias"}


def run_reference(hparams: dict, step_hint: int, steps: int) -> list[dict]:
  minimizer = asam_port.ASAM(rho=hparams["rho"], eta=hparams["eta"])
  base = sam_port.AdamW.from_hparams(hparams, step_hint)
  to_torch = lambda tree: {TORCH_NAMES[k]: v for k, v in tree.items()}  # noqa: E731
  to_lab = lambda tree: {k: tree[n] for k, n in TORCH_NAMES.items()}  # noqa: E731
  params = to_torch({k: v.copy() for k, v in INITIAL.items()})
  iterates = []
  for _ in range(steps):
    perturbed = minimizer.ascent_step(params, to_torch(log_cosh_grad(to_lab(params))))
    perturbed_grads = to_torch(log_cosh_grad(to_lab(perturbed)))
    params = minimizer.descent_step(perturbed, perturbed_grads, base.step)
    iterates.append(to_lab(params))
  return iterates


def _lab_iterates(**overrides) -> list[dict]:
  module = common.submission_module("submissions/sam/asam.py")
  workload = common.ToyWorkload(params=INITIAL)
  with common.float64():
    return common.run_lab(common.lab_optimizer(module, workload, **overrides), INITIAL,
                          lambda p: log_cosh_loss(jnp, p), common.REFERENCE_STEPS).iterates


def test_weights_and_biases_match_the_authors_asam():
  module = common.submission_module("submissions/sam/asam.py")
  reference = run_reference(module.HPARAMS, common.ToyWorkload(INITIAL).step_hint,
                            common.REFERENCE_STEPS)
  worst = common.assert_trajectories_match(_lab_iterates(), reference, RTOL)
  print(f"asam: max relative difference {worst:.3g}")


def test_scaling_the_bias_too_would_be_caught():
  """The perturbation the lab used before (T_w on every leaf) is far outside the tolerance."""
  module = common.submission_module("submissions/sam/asam.py")
  hparams = common.lab_hparams(module)
  everything = asam.make_asam_perturbation(hparams.eta)  # no parameter types: every leaf
  workload = common.ToyWorkload(params=INITIAL)
  optimizer = optax.chain(sam.sam_gradient(hparams.rho, everything),
                          adamw.make_optimizer(hparams, workload))
  with common.float64():
    old = common.run_lab(optimizer, INITIAL, lambda p: log_cosh_loss(jnp, p),
                         common.REFERENCE_STEPS).iterates
  reference = run_reference(module.HPARAMS, workload.step_hint, common.REFERENCE_STEPS)
  difference = common.max_relative_difference(old, reference)
  print(f"asam with T_w on the bias: max relative difference {difference:.3g}")
  assert difference > 1e3 * RTOL
