"""MoE load balancing on 8 fake CPU devices (tests/parallel/moe_device_checks.py).

Global-batch LBL on a data-parallel mesh is the LBL of the whole batch on one device;
micro-batch LBL with one micro-batch per device is the mean of each device's own LBL
("Demons in the Detail", arXiv 2501.11873: what a per-rank implementation computes).
"""

from __future__ import annotations

import functools

import pytest

from tests.parallel import moe_device_checks

# float32 sums split over 8 devices, in another order: a relative 1e-5.
RTOL = 1e-5


@functools.cache
def _lbl() -> dict:
  return moe_device_checks.run("lbl")


def test_the_batch_is_split_over_eight_devices() -> None:
  assert _lbl()["batch_shard_shape"] == [2, 32]


def test_global_batch_lbl_on_eight_devices_is_the_whole_batch_lbl_on_one() -> None:
  findings = _lbl()
  assert findings["global_on_mesh"] == pytest.approx(findings["whole_batch_one_device"], rel=RTOL)


def test_micro_batch_lbl_on_eight_devices_is_the_mean_of_per_shard_lbls() -> None:
  findings = _lbl()
  assert findings["micro_on_mesh"] == pytest.approx(findings["mean_of_per_shard_lbls"], rel=RTOL)
  # and the two rules differ on a real batch (each shard balances on its own 2 sequences)
  assert findings["micro_on_mesh"] != pytest.approx(findings["global_on_mesh"], rel=1e-3)


# -- expert parallelism (--sharding=expert) ------------------------------------------------------
# Stated tolerance: loss to a relative 1e-5, each gradient leaf to 1e-4 of its largest entry
# (float32 sums in another order once the batch and the experts are split).
GRAD_TOLERANCE = 1e-4


# The expert section compiles three value_and_grad programs over 8 devices: slow (its
# subprocess took 12 min of wall time on the 2-core machine under a concurrent timing job).
slow_expert = pytest.mark.slow


@functools.cache
def _expert() -> dict:
  return moe_device_checks.run("expert")


@slow_expert
@pytest.mark.parametrize("mesh", ["expert8", "data2_expert4"])
def test_expert_parallel_loss_and_gradients_equal_one_device(mesh: str) -> None:
  findings = _expert()
  assert findings[mesh]["loss"] == pytest.approx(findings["loss_one_device"], rel=RTOL)
  assert findings[mesh]["max_relative_grad_difference"] < GRAD_TOLERANCE


@slow_expert
@pytest.mark.parametrize("mesh, experts_per_device", [("expert8", 1), ("data2_expert4", 2)])
def test_each_device_holds_its_share_of_the_experts(mesh: str, experts_per_device: int) -> None:
  findings = _expert()[mesh]
  assert findings["wi_shape"] == [8, 32, 16]
  assert findings["wi_device_shapes"] == [[experts_per_device, 32, 16]]
  assert findings["wi_grad_spec"] == "P('expert',)"
  assert findings["router_spec"] == "P()"  # everything else replicated


@slow_expert
def test_the_batch_is_split_over_data_and_expert_devices() -> None:
  assert _expert()["data2_expert4"]["batch_spec"] == "P(('data', 'fsdp', 'expert'),)"


@slow_expert
def test_an_expert_count_the_axis_does_not_divide_is_a_clear_error() -> None:
  assert "has 6 experts, which the mesh's expert axis of 4 devices" in _expert()["indivisible_error"]
