"""COCOB-Backprop against Orabona's `parameterfree` package (tests/reference/ports/cocob.py):
the iterates after every step, without and with weight decay.

Measured 2026-12-05 (float64, 30 steps, both problems): max relative difference 6.9e-16.
"""

from __future__ import annotations

import pytest

from tests.reference import common
from tests.reference.ports import lr_free_problems
from tests.reference.ports.cocob import COCOB

COVERS = ["submissions/lr_free/cocob.py"]
PATH = COVERS[0]
RTOL = 1e-12


def _compare(problem: lr_free_problems.Problem, **overrides: float) -> float:
  module = common.submission_module(PATH)
  hparams = common.lab_hparams(module, **overrides)
  reference = COCOB(problem.params, alpha=hparams.alpha, weight_decay=hparams.weight_decay)
  params, iterates = problem.params, []
  for _ in range(common.REFERENCE_STEPS):
    params = reference.step(params, problem.value_and_grad(params)[1])
    iterates.append(params)
  with common.float64():
    lab = common.run_lab(common.lab_optimizer(module, common.ToyWorkload(params=problem.params),
                                              **overrides),
                         problem.params, problem.loss, common.REFERENCE_STEPS)
  moved = common.max_relative_difference(iterates[-1:], [problem.params])
  assert moved > 1e-2, f"the toy barely moves ({moved:.2g}): the check would prove little"
  return common.assert_trajectories_match(lab.iterates, iterates, RTOL)


@pytest.mark.parametrize("problem", lr_free_problems.PROBLEMS, ids=lambda p: p.__name__)
def test_defaults_match_the_authors_package(problem):
  assert _compare(problem()) <= RTOL


@pytest.mark.parametrize("problem", lr_free_problems.PROBLEMS, ids=lambda p: p.__name__)
def test_weight_decay_matches_the_authors_package(problem):
  assert _compare(problem(), weight_decay=0.01) <= RTOL
