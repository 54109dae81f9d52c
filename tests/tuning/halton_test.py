"""Scrambled Halton points and their mapping onto search spaces."""

import math

import numpy as np
import pytest

from algoperf_lab.tuning.halton import first_primes, sample_trials, scrambled_halton
from algoperf_lab.tuning.search_space import SearchSpaceError, parse_search_space

SPACE = {
    "learning_rate": {"min": 1e-5, "max": 1e-1, "scaling": "log"},
    "dropout": {"min": 0.0, "max": 0.5, "scaling": "linear"},
    "batch_size": {"min": 16, "max": 256, "scaling": "log"},
    "optimizer": {"feasible_points": ["adam", "lion", "sgd"]},
}


def test_first_primes():
  assert first_primes(6) == [2, 3, 5, 7, 11, 13]


def test_halton_is_deterministic_per_seed_and_in_unit_cube():
  a = scrambled_halton(64, 5, seed=1)
  assert a.shape == (64, 5)
  np.testing.assert_array_equal(a, scrambled_halton(64, 5, seed=1))
  assert not np.array_equal(a, scrambled_halton(64, 5, seed=2))
  # Base 2 alone also differs across seeds (per-digit scrambling).
  assert not np.array_equal(scrambled_halton(8, 1, seed=1), scrambled_halton(8, 1, seed=2))
  assert a.min() >= 0.0 and a.max() < 1.0


def test_halton_keeps_stratification():
  # The first b**k points put exactly one point in each interval [j/b**k, (j+1)/b**k).
  points = scrambled_halton(27, 2, seed=5)
  assert sorted(np.floor(points[:16, 0] * 16).astype(int)) == list(range(16))
  assert sorted(np.floor(points[:27, 1] * 27).astype(int)) == list(range(27))


def test_sample_trials_values_in_range_and_deterministic():
  space = parse_search_space(SPACE)
  trials = sample_trials(space, 20, seed=0)
  assert trials == sample_trials(space, 20, seed=0)
  assert trials != sample_trials(space, 20, seed=1)
  for t in trials:
    assert set(t) == set(SPACE)
    assert 1e-5 <= t["learning_rate"] <= 1e-1
    assert 0.0 <= t["dropout"] <= 0.5
    assert isinstance(t["batch_size"], int) and 16 <= t["batch_size"] <= 256
    assert t["optimizer"] in ("adam", "lion", "sgd")


def test_key_order_does_not_matter():
  reordered = dict(reversed(list(SPACE.items())))
  assert (sample_trials(parse_search_space(reordered), 10, seed=3)
          == sample_trials(parse_search_space(SPACE), 10, seed=3))


def test_log_scaling_splits_at_the_geometric_midpoint():
  space = parse_search_space({"lr": {"min": 1e-4, "max": 1.0, "scaling": "log"}})
  values = [t["lr"] for t in sample_trials(space, 512, seed=4)]
  below = sum(v < 1e-2 for v in values)  # geometric midpoint of 1e-4 and 1 is 1e-2
  assert abs(below - 256) <= 8
  linear = parse_search_space({"x": {"min": 0.0, "max": 10.0, "scaling": "linear"}})
  xs = [t["x"] for t in sample_trials(linear, 512, seed=4)]
  assert abs(sum(x < 5.0 for x in xs) - 256) <= 8
  assert math.isclose(float(np.mean(xs)), 5.0, abs_tol=0.1)


def test_feasible_points_all_used():
  space = parse_search_space({"c": {"feasible_points": [1, 2, 3, 4, 5]}})
  assert sorted({t["c"] for t in sample_trials(space, 10, seed=0)}) == [1, 2, 3, 4, 5]


def test_fixed_points_in_order_and_too_many_trials():
  space = parse_search_space([{"lr": 0.1}, {"lr": 0.01}, {"lr": 0.001}])
  assert sample_trials(space, 2, seed=9) == [{"lr": 0.1}, {"lr": 0.01}]
  with pytest.raises(SearchSpaceError, match="only 3"):
    sample_trials(space, 4, seed=0)


def test_a_float_hyperparameter_with_integer_bounds_samples_floats():
  """Issue 19: {"min": 0, "max": 1} for b1 (default 0.9) sampled only 0 and 1."""
  from algoperf_lab.tuning import halton
  from algoperf_lab.tuning.search_space import float_hparams, parse_search_space

  space = parse_search_space({"b1": {"min": 0, "max": 1, "scaling": "linear"},
                              "warmup_steps": {"min": 10, "max": 100, "scaling": "linear"}},
                             "space.json")
  drawn = halton.sample_trials(space, 8, seed=0,
                               float_names=float_hparams({"b1": 0.9, "warmup_steps": 50}))
  assert all(isinstance(t["b1"], float) for t in drawn)
  assert len({t["b1"] for t in drawn}) == 8 and not {t["b1"] for t in drawn} <= {0.0, 1.0}
  assert all(isinstance(t["warmup_steps"], int) for t in drawn)  # an int default stays int
