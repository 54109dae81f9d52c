"""IMTL-G (submissions/mtl/imtl_g.py) beside LibMTL's IMTL (tests/reference/ports/
mtl_weighting.py `imtl_g`, LibMTL/weighting/IMTL.py, the gradient part with the loss scales at
their initial e^0 = 1; the IMTL authors released no code) composed with the numpy AdamW, on the
2, 3 and 12-task toy of tests/reference/mtl_aggregators.py. IMTL's weights sum to one in both,
so no rescaling. RTOL = 1e-10; measured 2026-12-05 over 30 steps: 3.4e-17 (2 tasks),
8.7e-17 (3), 1.0e-15 (12: the lab's pseudo-inverse and LibMTL's inverse of DUᵀ round apart);
before the Gram matrix followed the gradients' dtype (float32) 9.9e-10 / 4.5e-8 / 3.4e-7.
"""

from __future__ import annotations

import pytest

from tests.reference import mtl_aggregators
from tests.reference.ports import mtl_weighting as port

COVERS = ["submissions/mtl/imtl_g.py"]
RTOL = 1e-10


@pytest.mark.parametrize("num_tasks", mtl_aggregators.TASK_COUNTS)
def test_matches_libmtl_imtl_g(num_tasks):
  mtl_aggregators.check_problem(num_tasks)
  worst = mtl_aggregators.compare(COVERS[0], num_tasks, lambda g, step: port.imtl_g(g), RTOL)
  assert worst <= RTOL
