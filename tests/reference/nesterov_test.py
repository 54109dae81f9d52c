"""SGD with Nesterov momentum (submissions/baselines/nesterov.py) against PyTorch's SGD.

Reference: pytorch/pytorch torch/optim/sgd.py `_single_tensor_sgd`, commit 0316fdc
(tests/reference/ports/torch_sgd.py) with nesterov=True, dampening 0: L2 weight decay added to
the gradient before the momentum (as AlgoPerf's Nesterov baseline, algorithms/
archived_paper_baselines/nesterov/jax/submission.py, does too), b_t = μ b_{t−1} + g_t,
x_t = x_{t−1} − η_t (g_t + μ b_t). Same toy, learning rate and schedule as
sgd_momentum_test.py (the default 0.5 diverges on this toy).
Measured 2026-12-05: max relative iterate difference 1.8e-16 over 40 steps.
"""

from __future__ import annotations

from tests.reference import sgd_momentum_test
from tests.reference.common import assert_trajectories_match

COVERS = ["submissions/baselines/nesterov.py"]
RTOL = 1e-12  # float64 rounding only


def trajectories() -> tuple[list, list]:
  return sgd_momentum_test.trajectories(COVERS[0], nesterov=True)


def test_nesterov_follows_pytorch_sgd():
  assert_trajectories_match(*trajectories(), RTOL)
