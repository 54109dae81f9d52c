"""The shared reference-test driver: its distance cannot hide a NaN, and its coverage reader
finds COVERS lists."""

from __future__ import annotations

import numpy as np

from tests.reference import common


def test_a_nan_iterate_is_infinitely_far_not_zero():
  reference = [{"w": np.ones(3)}]
  assert common.max_relative_difference([{"w": np.full(3, np.nan)}], reference) == float("inf")
  assert common.max_relative_difference(reference, [{"w": np.full(3, np.nan)}]) == float("inf")


def test_the_distance_is_relative_to_the_reference():
  assert common.max_relative_difference([{"w": np.array([3.0, 4.0])}],
                                        [{"w": np.array([0.0, 0.0])}]) == 5.0 / 1e-12
  assert np.isclose(common.max_relative_difference([{"w": np.array([1.0, 1.0])}],
                                                   [{"w": np.array([1.0, 0.0])}]), 1.0)


def test_covers_lists_are_found():
  covered = common.covered_submissions()
  assert "adamw_test.py" in covered["submissions/baselines/adamw.py"]
