"""Mechanic against its authors' code: the PyTorch package (optimizedlearning/mechanic,
src/mechanic_pytorch/mechanic.py; the port and its commit are in tests/reference/ports/
mechanic.py), the lab's default, and their JAX code (optax.contrib.mechanize, optax 0.2.8 as
installed), the lab's `mechanic_form="optax"`.

The lab's optimizer is the submission's own `make_optimizer` from its HPARAMS (AdamW base under
the lab's cosine multiplier); the port wraps a numpy `torch.optim.AdamW` step at the same
multiplier. The problem is a float64 least squares with a 3×4 weight matrix and a bias, 40
steps with step_hint 40.

Measured 2026-12-05 (max relative difference of the iterates over 40 steps): default 4.3e-16,
store_delta=False 1.5e-15, warmup 3.0e-16, base decay 2.2e-16; mechanic_form="optax" against
optax.contrib.mechanize 0 (bit-identical) at s_init 1e-8 and 1e-6. The lab's module before this
change was 0.72 from the default's trajectory: after 40 steps Σs 2.3e-4 against the authors'
1.7e-2 (73× smaller) and the loss 3.61 against 1.88 (3.65 at the start).
"""

from __future__ import annotations

import numpy as np
import optax
import pytest

from submissions.lib import lr_free, mechanic as mechanic_lib
from tests.reference import common
from tests.reference.ports import lr_free_problems
from tests.reference.ports import mechanic as port

COVERS = ["submissions/lr_free/mechanic.py"]
SUBMISSION = "submissions/lr_free/mechanic.py"
STEPS = 40
RTOL = 1e-10
PROBLEM = lr_free_problems.least_squares_3x4()


def run(steps: int = STEPS, **overrides) -> common.SubmissionRun:
  """The submission's optimizer (HPARAMS plus overrides) on PROBLEM, step_hint STEPS."""
  return common.run_submission(SUBMISSION, PROBLEM.params, PROBLEM.loss, steps, step_hint=STEPS,
                               **overrides)


def reference_run(workload: common.ToyWorkload, hparams, steps: int) -> tuple[list, port.Mechanic]:
  schedule = lr_free.multiplier_schedule(workload, hparams.warmup_factor, hparams.decay_to)
  base = port.adamw_step(lambda t: float(schedule(t)), b1=hparams.b1, b2=hparams.b2,
                         weight_decay=hparams.base_weight_decay)
  opt = port.Mechanic(base, s_decay=hparams.mechanic_weight_decay, s_init=hparams.s_init,
                      store_delta=hparams.store_delta)
  params, iterates = {k: v.copy() for k, v in PROBLEM.params.items()}, []
  for _ in range(steps):
    params = opt.step(params, PROBLEM.value_and_grad(params)[1])
    iterates.append({k: v.copy() for k, v in params.items()})
  return iterates, opt


# Each case but the first overrides to exercise one branch of the authors' code.
CASES = {
    "default": {},
    "store_delta_false": {"store_delta": False},  # the authors' default
    "warmup": {"warmup_factor": 0.1, "decay_to": 0.1},
    "base_decay": {"base_weight_decay": 0.1, "mechanic_weight_decay": 0.1},
}


@pytest.mark.parametrize("case", CASES)
def test_iterates_and_scale_match_the_authors_pytorch_code(case):
  lab = run(**CASES[case])
  with common.float64():  # the multiplier in float64, as the lab computes it
    reference, opt = reference_run(lab.workload, lab.hparams, STEPS)
  common.assert_trajectories_match(lab.iterates, reference, RTOL)
  s = lr_free.find_state(lab.final_state, mechanic_lib.MechanicState).s
  np.testing.assert_allclose(np.asarray(s), opt.state["s"], rtol=RTOL)
  assert float(np.sum(opt.state["s"])) > 1e-3  # the scale has grown from ~1e-6


@pytest.mark.parametrize("s_init", [1e-8, 1e-6])  # the lab's, and optax's default
def test_the_optax_form_matches_the_authors_jax_code(s_init):
  # optax.contrib.mechanize recomputes Δ: store_delta=False for the like-for-like check.
  lab = run(mechanic_form="optax", store_delta=False, s_init=s_init)
  hparams = lab.hparams
  schedule = lr_free.multiplier_schedule(lab.workload, hparams.warmup_factor, hparams.decay_to)
  with common.float64():
    authors = common.run_lab(optax.contrib.mechanize(
        optax.adamw(schedule, b1=hparams.b1, b2=hparams.b2, weight_decay=0.0),
        weight_decay=hparams.mechanic_weight_decay, s_init=s_init), PROBLEM.params, PROBLEM.loss,
        STEPS)
  common.assert_trajectories_match(lab.iterates, authors.iterates, RTOL)
