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
