"""Every schedule in submissions/lib/schedules/ against values worked out by hand from its formula.

The expected values are written as the arithmetic of each formula at a few steps (peak 2.0,
step_hint 100 unless a test says otherwise); each schedule is evaluated the way optax calls it,
jitted at an int32 step count.
"""

from __future__ import annotations

import math
import types

import jax
import jax.numpy as jnp
import optax
import pytest

from algoperf_lab import hyperparameters
from submissions.lib.schedules import base, constant, cosine, inverse_sqrt, linear, one_cycle
from submissions.lib.schedules import rex, sgdr, uba, wsd
from submissions.schedules import one_cycle as one_cycle_submission

PEAK = 2.0
STEP_HINT = 100


def _at(schedule: optax.Schedule, step: int) -> float:
  return float(jax.jit(schedule)(jnp.asarray(step, jnp.int32)))


def _check(schedule: optax.Schedule, expected: dict[int, float]) -> None:
  got = {step: _at(schedule, step) for step in expected}
  assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_warmup_is_linear_from_zero_over_the_warmup_fraction():
  assert base.num_warmup_steps(STEP_HINT, 0.1) == 10
  assert base.num_warmup_steps(STEP_HINT, 0.0) == 0
  with pytest.raises(ValueError, match="warmup_fraction must lie in"):
    base.num_warmup_steps(STEP_HINT, 1.5)


def test_cosine_to_zero():
  # w = 10 warmup steps, then 90 steps of decay: lr = peak (1 + cos(pi (t - 10) / 90)) / 2.
  _check(cosine.warmup_cosine(PEAK, STEP_HINT, 0.1), {
      0: 0.0, 5: PEAK * 5 / 10, 10: PEAK,
      40: PEAK * (1 + 0.5) / 2,  # cos(pi / 3) = 1/2
      55: PEAK * (1 + 0.0) / 2,  # cos(pi / 2) = 0
      100: 0.0, 130: 0.0})


def test_cosine_to_ten_percent():
  # lr = peak (0.1 + 0.9 (1 + cos(pi z)) / 2).
  _check(cosine.warmup_cosine(PEAK, STEP_HINT, 0.1, final_fraction=0.1), {
      5: PEAK * 5 / 10, 10: PEAK,
      55: PEAK * (0.1 + 0.9 * 0.5),
      100: PEAK * 0.1, 130: PEAK * 0.1})


def test_linear_to_zero():
  # lr = peak (1 - (t - 10) / 90).
  _check(linear.warmup_linear_to_zero(PEAK, STEP_HINT, 0.1), {
      5: PEAK * 5 / 10, 10: PEAK, 40: PEAK * (1 - 30 / 90), 55: PEAK * (1 - 45 / 90),
      100: 0.0, 130: 0.0})


def test_warmup_constant():
  _check(constant.warmup_constant(PEAK, STEP_HINT, 0.1),
         {0: 0.0, 5: PEAK * 5 / 10, 10: PEAK, 50: PEAK, 100: PEAK, 1000: PEAK})


@pytest.mark.parametrize("shape, quarter, half", [
    # Cooldown over steps [80, 100]; z = 1/4 at step 85, 1/2 at step 90.
    ("linear", 1 - 0.25, 1 - 0.5),
    ("1-sqrt", 1 - 0.5, 1 - math.sqrt(0.5)),
    ("cosine", (1 + math.sqrt(2) / 2) / 2, (1 + 0.0) / 2),
])
def test_wsd_cooldown_shapes(shape, quarter, half):
  _check(wsd.wsd(PEAK, STEP_HINT, 0.1, cooldown_fraction=0.2, shape=shape), {
      5: PEAK * 5 / 10, 10: PEAK, 50: PEAK, 80: PEAK,
      85: PEAK * quarter, 90: PEAK * half, 100: 0.0, 130: 0.0})


def test_wsd_warmup_from_a_fraction_of_the_peak():
  # epfml's wsd_schedule: t / w + (1 - t / w) / init_div_factor during warmup (w = 10 here).
  _check(wsd.wsd(PEAK, STEP_HINT, 0.1, 0.2, "1-sqrt", warmup_start_fraction=0.01), {
      0: PEAK * 0.01, 5: PEAK * (0.5 + 0.5 * 0.01), 10: PEAK, 50: PEAK})


def test_wsd_rejects_an_unknown_shape_by_name():
  with pytest.raises(ValueError, match=r"unknown cooldown shape 'sqrt'; choose one of"):
    wsd.wsd(PEAK, STEP_HINT, 0.1, 0.2, "sqrt")


def test_rex():
  # No warmup: z = t / 100, lr = peak (1 - z) / (1/2 + (1 - z) / 2).
  _check(rex.warmup_rex(PEAK, STEP_HINT, 0.0), {
      0: PEAK * 1 / (0.5 + 0.5),
      50: PEAK * 0.5 / (0.5 + 0.25),
      75: PEAK * 0.25 / (0.5 + 0.125),
      100: 0.0})
  # With 10 warmup steps, z = 1/2 at step 10 + 45.
  _check(rex.warmup_rex(PEAK, STEP_HINT, 0.1),
         {5: PEAK * 5 / 10, 10: PEAK, 55: PEAK * 0.5 / (0.5 + 0.25)})


def test_sgdr_cycle_starts():
  assert sgdr.cycle_starts(90, 2, 2.0) == [0, 30, 90]  # T_0 = 90 / (1 + 2)
  assert sgdr.cycle_starts(90, 3, 1.0) == [0, 30, 60, 90]
  assert sgdr.cycle_starts(100, 3, 2.0) == [0, round(100 / 7), round(300 / 7), 100]
  with pytest.raises(ValueError, match="num_cycles must be at least 1"):
    sgdr.cycle_starts(100, 0, 2.0)


def test_sgdr_doubling_cycles():
  # step_hint 90, no warmup: cycles [0, 30) and [30, 90), each cosine from the peak to 0.
  _check(sgdr.warmup_sgdr(PEAK, 90, 0.0, num_cycles=2, cycle_mult=2.0), {
      0: PEAK, 15: PEAK * (1 + 0.0) / 2,
      29: PEAK * (1 + math.cos(math.pi * 29 / 30)) / 2,
      30: PEAK, 45: PEAK * (1 + math.cos(math.pi * 15 / 60)) / 2, 60: PEAK * (1 + 0.0) / 2,
      90: 0.0})


def test_sgdr_equal_cycles_after_warmup():
  # 10 warmup steps, then 90 steps in 3 cycles of 30 starting at steps 10, 40, 70.
  _check(sgdr.warmup_sgdr(PEAK, STEP_HINT, 0.1, num_cycles=3, cycle_mult=1.0), {
      5: PEAK * 5 / 10, 10: PEAK, 25: PEAK / 2, 40: PEAK, 55: PEAK / 2, 70: PEAK, 85: PEAK / 2,
      100: 0.0})


def test_one_cycle_learning_rate_and_momentum():
  # cycle_fraction 0.8, so OneCycleLR's pct_start 0.4 and phase ends 0.4 T - 1 = 39,
  # 0.8 T - 2 = 78, T - 1 = 99: up over [0, 39], down over [39, 78], annihilation over [78, 99];
  # lo = peak / 10 = 0.2, final = lo / 100 = 0.002, held after step 99.
  _check(one_cycle.one_cycle_learning_rate(PEAK, STEP_HINT, 0.8, 10.0, 100.0), {
      0: 0.2, 20: 0.2 + (PEAK - 0.2) * 20 / 39, 39: PEAK, 60: PEAK - (PEAK - 0.2) * 21 / 39,
      78: 0.2, 90: 0.2 - (0.2 - 0.002) * 12 / 21, 99: 0.002, 130: 0.002})
  _check(one_cycle.one_cycle_momentum(0.95, 0.85, STEP_HINT, 0.8), {
      0: 0.95, 20: 0.95 - 0.10 * 20 / 39, 39: 0.85, 60: 0.85 + 0.10 * 21 / 39, 78: 0.95,
      90: 0.95, 99: 0.95})


def test_one_cycle_two_cosine_phases():
  # OneCycleLR's default variant: pct_start 0.3 (cycle_fraction 0.6), phase ends 29 and 99;
  # lr = end + (start - end) (cos(pi pct) + 1) / 2, pct = 1/2 half way through the second.
  _check(one_cycle.one_cycle_learning_rate(PEAK, STEP_HINT, 0.6, 25.0, 1e4, three_phase=False,
                                           anneal_strategy="cos"), {
      0: PEAK / 25, 10: PEAK + (PEAK / 25 - PEAK) / 2 * (math.cos(math.pi * 10 / 29) + 1),
      29: PEAK, 64: (PEAK + PEAK / 25 / 1e4) / 2, 99: PEAK / 25 / 1e4})


def test_one_cycle_submission_feeds_both_schedules_to_adamw():
  hparams = hyperparameters.make_hyperparameters(
      one_cycle_submission.HPARAMS, {"learning_rate": PEAK, "cycle_fraction": 0.8},
      "one_cycle")
  optimizer = one_cycle_submission.make_optimizer(hparams, types.SimpleNamespace(step_hint=100))
  params = jnp.zeros(3)
  state = optimizer.init(params)
  for _ in range(21):  # the 21st update uses the values at step count 20
    _, state = jax.jit(optimizer.update)(jnp.ones(3), state, params)
  assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.2 + (PEAK - 0.2) * 20 / 39)
  assert float(state.hyperparams["b1"]) == pytest.approx(0.95 - 0.10 * 20 / 39)


def test_inverse_sqrt():
  # w = 25: lr = peak min(t / 25, sqrt(25 / t)).
  _check(inverse_sqrt.warmup_inverse_sqrt(PEAK, STEP_HINT, 0.25), {
      0: 0.0, 5: PEAK * 5 / 25, 25: PEAK, 100: PEAK * math.sqrt(25 / 100),
      400: PEAK * math.sqrt(25 / 400)})


@pytest.mark.parametrize("phi, at_quarter, at_half", [
    # lr = peak 2 (1 + cos(pi z)) / (2 phi + (2 - phi)(1 + cos(pi z))), z = t / 100.
    (1.0, 2 * (1 + math.sqrt(2) / 2) / (2 + (1 + math.sqrt(2) / 2)), 2 * 1 / (2 + 1)),
    (4.0, 2 * (1 + math.sqrt(2) / 2) / (8 - 2 * (1 + math.sqrt(2) / 2)), 2 * 1 / (8 - 2)),
    (2.0, (1 + math.sqrt(2) / 2) / 2, 1 / 2),  # phi = 2: cosine decay
])
def test_uba(phi, at_quarter, at_half):
  _check(uba.warmup_uba(PEAK, STEP_HINT, 0.0, phi),
         {0: PEAK, 25: PEAK * at_quarter, 50: PEAK * at_half, 100: 0.0})


def test_uba_with_phi_two_is_cosine_after_warmup():
  uba_schedule = uba.warmup_uba(PEAK, STEP_HINT, 0.1, 2.0)
  cosine_schedule = cosine.warmup_cosine(PEAK, STEP_HINT, 0.1)
  for step in (5, 10, 33, 55, 77, 100):
    assert _at(uba_schedule, step) == pytest.approx(_at(cosine_schedule, step), rel=1e-5, abs=1e-6)
