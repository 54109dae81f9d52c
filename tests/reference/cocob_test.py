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
  lab = common.run_submission(PATH, problem.params, problem.loss, common.REFERENCE_STEPS,
                              **overrides)
  reference = COCOB(problem.params, alpha=lab.hparams.alpha,
                    weight_decay=lab.hparams.weight_decay)
  params, iterates = problem.params, []
  for _ in range(common.REFERENCE_STEPS):
    params = reference.step(params, problem.value_and_grad(params)[1])
    iterates.append(params)
  common.assert_moves(iterates, problem.params, 1e-2)
  return common.assert_trajectories_match(lab.iterates, iterates, RTOL)


@pytest.mark.parametrize("problem", lr_free_problems.PROBLEMS, ids=lambda p: p.__name__)
def test_defaults_match_the_authors_package(problem):
  assert _compare(problem()) <= RTOL


@pytest.mark.parametrize("problem", lr_free_problems.PROBLEMS, ids=lambda p: p.__name__)
def test_weight_decay_matches_the_authors_package(problem):
  assert _compare(problem(), weight_decay=0.01) <= RTOL
