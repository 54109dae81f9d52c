"""DoWG against its authors' code (tests/reference/ports/dowg.py): the iterates after every step.

Measured 2026-12-05 (float64, 30 steps, both problems): max relative difference 7.3e-15.
"""

from __future__ import annotations

import pytest

from tests.reference import common
from tests.reference.ports import lr_free_problems
from tests.reference.ports.dowg import DoWG

COVERS = ["submissions/lr_free/dowg.py"]
PATH = COVERS[0]
RTOL = 1e-12


@pytest.mark.parametrize("problem", lr_free_problems.PROBLEMS, ids=lambda p: p.__name__)
def test_defaults_match_the_authors_code(problem):
  problem = problem()
  module = common.submission_module(PATH)
  hparams = common.lab_hparams(module)
  assert hparams.weight_decay == 0.0  # the authors' DoWG has none
  reference = DoWG(problem.params, eps=hparams.init_sq_dist)
  params, iterates = problem.params, []
  for _ in range(common.REFERENCE_STEPS):
    params = reference.step(params, problem.value_and_grad(params)[1])
    iterates.append(params)
  with common.float64():
    lab = common.run_lab(common.lab_optimizer(module, common.ToyWorkload(params=problem.params)),
                         problem.params, problem.loss, common.REFERENCE_STEPS)
  moved = common.max_relative_difference(iterates[-1:], [problem.params])
  assert moved > 1e-2, f"the toy barely moves ({moved:.2g}): the check would prove little"
  assert common.assert_trajectories_match(lab.iterates, iterates, RTOL) <= RTOL
