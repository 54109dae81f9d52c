"""Prodigy against its authors' code (konstmish/prodigy, prodigyopt/prodigy.py; the port and its
commit are in tests/reference/ports/prodigy.py).

The lab's optimizer is the submission's own `make_optimizer` from its HPARAMS; the port gets
the same multiplier each step, as a PyTorch scheduler would set the group's lr. The problem is
a float64 least squares with a 3×4 weight matrix and a bias, 40 steps with step_hint 40 (the
whole cosine decay).

Measured 2026-12-05 (max relative difference of the iterates over 40 steps): default 2.7e-15,
warmup 7.4e-16, bias correction 9.2e-17, decay 8.4e-13, safeguard_warmup 2.5e-15; the
module's own options: L2 decay 1.4e-14, growth_rate 1.5 3.4e-14, β₁ = 0 3.9e-16.
optax.contrib.prodigy, which the lab used before, is 1.07 (107%) from the default's trajectory
and NaN from the first step with warmup.
"""

from __future__ import annotations

import numpy as np
import pytest

from submissions.lib import lr_free, prodigy as prodigy_lib
from tests.reference import common
from tests.reference.ports import lr_free_problems
from tests.reference.ports import prodigy as port

COVERS = ["submissions/lr_free/prodigy.py"]
SUBMISSION = "submissions/lr_free/prodigy.py"
STEPS = 40
RTOL = 1e-10

PROBLEM = lr_free_problems.least_squares_3x4()


def run(steps: int = STEPS, **overrides) -> common.SubmissionRun:
  """The submission's optimizer (HPARAMS plus overrides) on PROBLEM, step_hint STEPS."""
  return common.run_submission(SUBMISSION, PROBLEM.params, PROBLEM.loss, steps, step_hint=STEPS,
                               **overrides)


def reference_run(workload: common.ToyWorkload, hparams, steps: int) -> tuple[list, port.Prodigy]:
  schedule = lr_free.multiplier_schedule(workload, hparams.warmup_factor, hparams.decay_to)
  opt = port.Prodigy(PROBLEM.params, betas=(hparams.b1, hparams.b2),
                     weight_decay=hparams.weight_decay,
                     use_bias_correction=hparams.use_bias_correction,
                     safeguard_warmup=hparams.safeguard_warmup, d0=hparams.d0,
                     d_coef=hparams.d_coef)
  return lr_free_problems.run_with_multipliers(opt, PROBLEM, lambda t: float(schedule(t)),
                                              steps), opt


# Each case but the first overrides to exercise one branch of the authors' code.
CASES = {
    "default": {},
    "warmup": {"warmup_factor": 0.1},  # multiplier 0 on the first step: the authors skip it
    "bias_correction": {"use_bias_correction": True},
    "decay": {"weight_decay": 0.1, "d_coef": 0.5},
    "safeguard_warmup": {"warmup_factor": 0.1, "safeguard_warmup": True, "decay_to": 0.1},
}


@pytest.mark.parametrize("case", CASES)
def test_iterates_and_d_match_the_authors_code(case):
  lab = run(**CASES[case])
  with common.float64():  # the multiplier in float64, as the lab computes it
    reference, opt = reference_run(lab.workload, lab.hparams, STEPS)
  common.assert_trajectories_match(lab.iterates, reference, RTOL)
  d = float(lr_free.find_state(lab.final_state, prodigy_lib.ProdigyState).d)
  assert d == pytest.approx(opt.d, rel=RTOL) and d > 10 * lab.hparams.d0  # d has grown
  assert np.all(np.isfinite(common._flat(lab.iterates[-1])))  # pylint: disable=protected-access


def test_a_step_with_multiplier_zero_changes_nothing():
  lab = run(1, warmup_factor=0.1)
  np.testing.assert_array_equal(lab.iterates[0]["w"], PROBLEM.params["w"])
  state = lr_free.find_state(lab.final_state, prodigy_lib.ProdigyState)
  assert int(state.k) == 0 and int(state.count) == 1 and float(state.d) == 1e-6


@pytest.mark.parametrize("options", [{"decouple": False, "weight_decay": 0.1},
                                     {"growth_rate": 1.5}, {"b1": 0.0}])
def test_the_module_options_the_submission_leaves_at_their_defaults(options):
  """Branches of the authors' code the submission does not reach (L2 decay, a growth limit, no
  momentum), through the lab's module at a constant multiplier 1."""
  opt = port.Prodigy(PROBLEM.params, betas=(options.get("b1", 0.9), 0.999),
                     **{k: v for k, v in options.items() if k != "b1"})
  with common.float64():
    lab = common.run_lab(prodigy_lib.scale_by_prodigy(1.0, **options), PROBLEM.params,
                         PROBLEM.loss, STEPS)
  reference = lr_free_problems.run_with_multipliers(opt, PROBLEM, lambda t: 1.0, STEPS)
  common.assert_trajectories_match(lab.iterates, reference, RTOL)
