"""Scrambled Halton sequences and quasi-random trial sampling from a search space.

Dimension d uses the d-th prime as base. Each base-b digit of the point index is passed through
a random permutation of {0, ..., b-1}, drawn independently per (base, digit position) from a
numpy Generator seeded by `seed`. A digit-wise bijection keeps Halton's stratification (each
b-adic interval still gets its share of points) while breaking the correlation between
dimensions of nearby primes, and it makes different seeds give different designs even in
base 2, where a single permutation per base could only flip the sequence.
"""

from __future__ import annotations

import math

import numpy as np

from algoperf_lab.tuning.search_space import (
    DiscreteParam, FixedPointsSpace, RangeParam, Scalar, SearchSpace, SearchSpaceError)

_MANTISSA_BITS = 52
_LARGEST_BELOW_ONE = float(np.nextafter(1.0, 0.0))


def first_primes(count: int) -> list[int]:
  """The first `count` primes, by trial division (dimensions are few)."""
  primes: list[int] = []
  candidate = 2
  while len(primes) < count:
    if all(candidate % p for p in primes if p * p <= candidate):
      primes.append(candidate)
    candidate += 1
  return primes


def _num_digits(base: int) -> int:
  """Digits per coordinate: as many as a double resolves (base**digits <= 2**52)."""
  return max(1, int(_MANTISSA_BITS / math.log2(base)))


def _scrambled_radical_inverse(indices: np.ndarray, base: int,
                               rng: np.random.Generator) -> np.ndarray:
  digits = _num_digits(base)
  if indices.size and int(indices.max()) >= base**digits:
    raise ValueError(f"too many points for base {base}: index {int(indices.max())} needs more "
                     f"than {digits} digits")
  value = np.zeros(indices.shape, dtype=float)
  remaining = indices.copy()
  for position in range(digits):
    permutation = rng.permutation(base)
    value += permutation[remaining % base] * float(base) ** -(position + 1)
    remaining //= base
  return value


def scrambled_halton(num_points: int, dim: int, seed: int) -> np.ndarray:
  """`num_points` x `dim` scrambled Halton points in [0, 1)^dim, deterministic per seed."""
  if num_points < 0 or dim < 0:
    raise ValueError(f"num_points and dim must be >= 0, got {num_points} and {dim}")
  rng = np.random.default_rng(seed)
  indices = np.arange(num_points, dtype=np.int64)
  columns = [_scrambled_radical_inverse(indices, base, rng) for base in first_primes(dim)]
  points = np.stack(columns, axis=1) if columns else np.zeros((num_points, 0))
  return np.minimum(points, _LARGEST_BELOW_ONE)


def _map_range(param: RangeParam, u: float, as_float: bool = False) -> float | int:
  lo, hi = float(param.min), float(param.max)
  if param.scaling == "log":
    value = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
  else:
    value = lo + u * (hi - lo)
  value = min(max(value, lo), hi)
  return int(round(value)) if param.is_integer and not as_float else value


def _map_points(param: DiscreteParam, u: float) -> Scalar:
  index = min(int(math.floor(u * len(param.feasible_points))), len(param.feasible_points) - 1)
  return param.feasible_points[index]


def sample_trials(space: SearchSpace | FixedPointsSpace, num_trials: int, seed: int,
                  float_names: frozenset[str] = frozenset()) -> list[dict[str, Scalar]]:
  """`num_trials` hyperparameter settings: Halton points mapped onto the space, or fixed points.

  Dimensions follow sorted hyperparameter names, so results do not depend on JSON key order.
  Fixed-point spaces return their entries in order (the seed is unused). A range with integer
  bounds samples integers (AlgoPerf's reading), except for the names in `float_names` (the
  hyperparameters whose default is a float: `{"min": 0, "max": 1}` for b1 means [0, 1]).
  """
  if num_trials < 0:
    raise ValueError(f"num_trials must be >= 0, got {num_trials}")
  if isinstance(space, FixedPointsSpace):
    if num_trials > len(space.points):
      raise SearchSpaceError(
          f"asked for {num_trials} trials but the fixed-point search space lists only "
          f"{len(space.points)}. Fix: lower the number of trials or add more points.")
    return [dict(p) for p in space.points[:num_trials]]
  params = sorted(space.params, key=lambda p: p.name)
  points = scrambled_halton(num_trials, len(params), seed)
  trials = []
  for row in points:
    trial: dict[str, Scalar] = {}
    for param, u in zip(params, row):
      u = float(u)
      trial[param.name] = (_map_range(param, u, param.name in float_names)
                           if isinstance(param, RangeParam) else _map_points(param, u))
    trials.append(trial)
  return trials
