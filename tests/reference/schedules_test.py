"""The learning-rate schedule submissions against their authors' schedules, under AdamW.

Every submission in submissions/schedules/ is AdamW (`optax.adamw`) under one schedule. Each
test builds the submission's optimizer from its own HPARAMS through its own `make_optimizer` on
an 11-parameter float64 quadratic (an 8-vector and a 3-vector, curvatures 0.5 to 8) with a
`step_hint` of 40 (overridden from the workload so that warmup, every decay phase, every
restart and every merge window happen within the compared steps), runs it for step_hint steps
as the lab's train step drives it, and compares the iterates with a numpy float64 AdamW
(PyTorch's, `ports/schedules_adamw.py`) driven by the authors' schedule. It also compares the
submission's `learning_rate(hparams, workload)` (and one_cycle's `momentum`) with the authors'
formula at every step of the budget, and for WSM the merged evaluation point with the paper's
merge.

References (ports in tests/reference/ports/):
  cosine_to_zero, cosine_to_10pct, linear_to_zero, warmup_constant, inverse_sqrt: Hugging Face
    transformers' warmup schedules (`transformers_schedules.py`);
  one_cycle: PyTorch OneCycleLR, three phases, linear; sgdr: PyTorch CosineAnnealingWarmRestarts
    (`torch_schedules.py`);
  wsd: epfml/schedules-and-scaling `wsd_schedule` (`wsd.py`);
  rex, uba, wsm: the papers' equations, no authors' code public (`rex.py`, `uba.py`, `wsm.py`).
Warmup: the lab's schedules (except one_cycle, which has none, and WSD, whose authors start at
peak / 100) warm up as transformers does: the update after t < w steps runs at peak * t / w, so
the first update runs at 0. REX, UBA and SGDR are warmup-free in their papers; the lab's warmup
(w = int(warmup_factor * step_hint) = 2 steps here) is the transformers one, then the paper's
schedule over the remaining step_hint - w steps.

Measured 2026-12-05 (this quadratic, float64, step_hint steps): iterates within 1.1e-15
relative of the references for every submission (WSM's eval point 2.6e-16); learning rates within
4e-15 relative at every nonzero step (1cycle 1e-14 where its rate ends near 8e-9), zeros equal.
Before the fixes of that date: 1cycle's phases ended one to two steps after OneCycleLR's
(rate off by up to 0.1 x peak, b1 by 0.011; iterates 1.5e-2 apart), WSD's warmup started at 0
instead of peak / 100 (iterates 2.6e-4 apart), and every schedule and the WSM merge were
computed in float32 (iterates 1e-9 to 3e-8 apart).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.reference import common
from tests.reference.ports import rex as rex_port
from tests.reference.ports import schedules_adamw, torch_schedules, transformers_schedules
from tests.reference.ports import uba as uba_port
from tests.reference.ports import wsd as wsd_port
from tests.reference.ports import wsm as wsm_port

COVERS = [
    "submissions/schedules/cosine_to_10pct.py",
    "submissions/schedules/cosine_to_zero.py",
    "submissions/schedules/inverse_sqrt.py",
    "submissions/schedules/linear_to_zero.py",
    "submissions/schedules/one_cycle.py",
    "submissions/schedules/rex.py",
    "submissions/schedules/sgdr.py",
    "submissions/schedules/uba.py",
    "submissions/schedules/warmup_constant.py",
    "submissions/schedules/wsd.py",
    "submissions/schedules/wsm.py",
]
STEP_HINT = 40
# SGDR: 3 doubling cycles fill step_hint - w exactly only when 7 divides it; 44 - 2 = 42 gives
# PyTorch's integer T_0 = 6, T_mult = 2 (cycles of 6, 12, 24 steps).
SGDR_STEP_HINT = 44
RTOL = 1e-12  # float64 rounding; measured values are in the module docstring

CURVATURE = {"w": np.linspace(0.5, 8.0, 8), "b": np.array([1.0, 2.0, 3.0])}
OPTIMUM = {"w": np.linspace(-1.0, 1.0, 8), "b": np.array([0.5, -0.5, 0.25])}
INITIAL = {"w": np.linspace(0.3, -0.2, 8), "b": np.array([-0.1, 0.2, 0.05])}


def _loss(params: dict[str, jax.Array]) -> jax.Array:
  return sum(0.5 * jnp.sum(jnp.asarray(CURVATURE[k]) * (params[k] - jnp.asarray(OPTIMUM[k])) ** 2)
             for k in params)


def _grad(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  return {k: CURVATURE[k] * (v - OPTIMUM[k]) for k, v in params.items()}


def _module(name: str) -> ModuleType:
  return common.submission_module(f"submissions/schedules/{name}.py")


def _warmup_steps(hparams: Any, step_hint: int) -> int:
  return int(hparams.warmup_factor * step_hint)


def _then(warmup_steps: int, after: Callable[[int], float]) -> Callable[[int], float]:
  """transformers' linear warmup for t < w, then `after(t - w)` (the lab's composition)."""
  return lambda t: (transformers_schedules.constant_with_warmup(t, num_warmup_steps=warmup_steps)
                    if t < warmup_steps else after(t - warmup_steps))


def _sgdr(hparams: Any, step_hint: int) -> Callable[[int], float]:
  warmup = _warmup_steps(hparams, step_hint)
  remaining = step_hint - warmup
  t_0 = remaining * (int(hparams.cycle_mult) - 1) // (int(hparams.cycle_mult) ** hparams.num_cycles
                                                         - 1)
  scheduler = torch_schedules.CosineAnnealingWarmRestarts(1.0, T_0=t_0,
                                                          T_mult=int(hparams.cycle_mult))
  multipliers = []
  for _ in range(remaining):
    multipliers.append(scheduler.lr())
    scheduler.step()
  return _then(warmup, lambda t: multipliers[t])


# The authors' learning-rate multiplier at step t (0 for the first update), per submission.
REFERENCE_MULTIPLIERS: dict[str, Callable[[Any, int], Callable[[int], float]]] = {
    "cosine_to_zero": lambda h, n: lambda t: transformers_schedules.cosine_with_warmup(
        t, num_warmup_steps=_warmup_steps(h, n), num_training_steps=n),
    "cosine_to_10pct": lambda h, n: lambda t: transformers_schedules.cosine_with_warmup(
        t, num_warmup_steps=_warmup_steps(h, n), num_training_steps=n, min_lr_rate=0.1),
    "linear_to_zero": lambda h, n: lambda t: transformers_schedules.linear_with_warmup(
        t, num_warmup_steps=_warmup_steps(h, n), num_training_steps=n),
    "warmup_constant": lambda h, n: lambda t: transformers_schedules.constant_with_warmup(
        t, num_warmup_steps=_warmup_steps(h, n)),
    "wsm": lambda h, n: lambda t: transformers_schedules.constant_with_warmup(
        t, num_warmup_steps=_warmup_steps(h, n)),
    "inverse_sqrt": lambda h, n: lambda t: transformers_schedules.inverse_sqrt(
        t, num_warmup_steps=_warmup_steps(h, n)),
    "rex": lambda h, n: _then(_warmup_steps(h, n),
                              lambda t: rex_port.rex_multiplier(t, n - _warmup_steps(h, n))),
    "uba": lambda h, n: _then(_warmup_steps(h, n), lambda t: uba_port.uba_learning_rate(
        t, n - _warmup_steps(h, n), h.phi, 1.0)),
    "sgdr": _sgdr,
    "wsd": lambda h, n: wsd_port.wsd_schedule(
        n, final_lr_factor=0.0, n_warmup=_warmup_steps(h, n), init_div_factor=1e2,
        fract_decay=h.cooldown_fraction,
        decay_type={"1-sqrt": "sqrt"}.get(h.cooldown_shape, h.cooldown_shape)),
}


def _one_cycle(hparams: Any, step_hint: int) -> torch_schedules.OneCycleLR:
  return torch_schedules.OneCycleLR(
      hparams.learning_rate, step_hint, pct_start=hparams.cycle_fraction / 2,
      anneal_strategy="linear", base_momentum=hparams.b1_min, max_momentum=hparams.b1,
      div_factor=hparams.div_factor, final_div_factor=hparams.final_div_factor, three_phase=True)


def _reference_rates(name: str, hparams: Any, step_hint: int) -> tuple[list[float], list[float]]:
  """(learning rate, b1) of each of the step_hint updates, from the authors' schedule."""
  if name == "one_cycle":
    pairs = [_one_cycle(hparams, step_hint).lr_and_momentum(t) for t in range(step_hint)]
    return [lr for lr, _ in pairs], [b1 for _, b1 in pairs]
  multiplier = REFERENCE_MULTIPLIERS[name](hparams, step_hint)
  return ([hparams.learning_rate * multiplier(t) for t in range(step_hint)],
          [hparams.b1] * step_hint)


def _lab_rates(module: ModuleType, hparams: Any, step_hint: int) -> np.ndarray:
  workload = common.ToyWorkload(INITIAL, step_hint=step_hint)
  schedule = jax.jit(module.learning_rate(hparams, workload))
  return np.array([float(schedule(jnp.asarray(t, jnp.int32))) for t in range(step_hint)])


def _max_relative(got: np.ndarray, want: np.ndarray) -> float:
  return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-300)))


def _compare_iterates(name: str, step_hint: int = STEP_HINT, **overrides: Any) -> float:
  module = _module(name)
  hparams = common.lab_hparams(module, **overrides)
  workload = common.ToyWorkload(INITIAL, step_hint=step_hint)
  with common.float64():
    optimizer = common.lab_optimizer(module, workload, **overrides)
    trajectory = common.run_lab(optimizer, INITIAL, _loss, step_hint)
  rates, beta1s = _reference_rates(name, hparams, step_hint)
  reference = schedules_adamw.run(INITIAL, _grad, rates, beta1s, hparams.b2,
                                  hparams.weight_decay)
  return common.assert_trajectories_match(trajectory.iterates, reference, RTOL)


@pytest.mark.parametrize("name", sorted(REFERENCE_MULTIPLIERS) + ["one_cycle"])
def test_iterates_match_adamw_under_the_authors_schedule(name):
  step_hint = SGDR_STEP_HINT if name == "sgdr" else STEP_HINT
  assert _compare_iterates(name, step_hint) <= RTOL


@pytest.mark.parametrize("name", sorted(REFERENCE_MULTIPLIERS) + ["one_cycle"])
def test_learning_rate_matches_the_authors_formula_at_every_step(name):
  step_hint = SGDR_STEP_HINT if name == "sgdr" else STEP_HINT
  module = _module(name)
  hparams = common.lab_hparams(module)
  with common.float64():
    got = _lab_rates(module, hparams, step_hint)
  want, _ = _reference_rates(name, hparams, step_hint)
  np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-300)


def test_one_cycle_momentum_matches_onecyclelr_at_every_step():
  module = _module("one_cycle")
  hparams = common.lab_hparams(module)
  workload = common.ToyWorkload(INITIAL, step_hint=STEP_HINT)
  with common.float64():
    schedule = jax.jit(module.momentum(hparams, workload))
    got = np.array([float(schedule(jnp.asarray(t, jnp.int32))) for t in range(STEP_HINT)])
  _, want = _reference_rates("one_cycle", hparams, STEP_HINT)
  np.testing.assert_allclose(got, want, rtol=RTOL)


@pytest.mark.parametrize("three_phase", [True, False])
@pytest.mark.parametrize("strategy", ["linear", "cos"])
def test_one_cycle_variants_match_onecyclelr(three_phase, strategy):
  # The lab's option for OneCycleLR's own default (two cosine phases) and the other pairs.
  from submissions.lib.schedules import one_cycle  # pylint: disable=import-outside-toplevel
  reference = torch_schedules.OneCycleLR(0.002, STEP_HINT, pct_start=0.3, anneal_strategy=strategy,
                                         div_factor=25.0, final_div_factor=1e4,
                                         three_phase=three_phase)
  with common.float64():
    rate = jax.jit(one_cycle.one_cycle_learning_rate(0.002, STEP_HINT, 0.6, 25.0, 1e4,
                                                     three_phase, strategy))
    b1 = jax.jit(one_cycle.one_cycle_momentum(0.95, 0.85, STEP_HINT, 0.6, three_phase, strategy))
    got = np.array([[float(rate(t)), float(b1(t))] for t in range(STEP_HINT)])
  want = np.array([reference.lr_and_momentum(t) for t in range(STEP_HINT)])
  # atol: the rate's last value, 8e-9, is a difference of numbers near 1e-4 in both codes.
  np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-18)


@pytest.mark.parametrize("phi", [1.0, 2.0, 5.0, 0.5])
def test_uba_learning_rate_for_several_phi(phi):
  # phi = 1 is the default, 2 the cosine, 5 decays early, 0.5 late.
  module = _module("uba")
  hparams = common.lab_hparams(module, phi=phi)
  with common.float64():
    got = _lab_rates(module, hparams, STEP_HINT)
  want, _ = _reference_rates("uba", hparams, STEP_HINT)
  np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-300)
  if phi == 2.0:  # the paper's special case: cosine annealing
    cosine, _ = _reference_rates("cosine_to_zero", hparams, STEP_HINT)
    np.testing.assert_allclose(got, cosine, rtol=1e-12, atol=1e-18)


def test_uba_iterates_with_phi_five():
  assert _compare_iterates("uba", phi=5.0) <= RTOL


@pytest.mark.parametrize("shape", ["linear", "cosine"])
def test_wsd_other_cooldown_shapes(shape):
  assert _compare_iterates("wsd", cooldown_shape=shape) <= RTOL


def _wsm_eval_points(**overrides: Any) -> tuple[list[Any], list[Any], Any]:
  module = _module("wsm")
  hparams = common.lab_hparams(module, **overrides)
  with common.float64():
    optimizer = common.lab_optimizer(module, common.ToyWorkload(INITIAL, step_hint=STEP_HINT),
                                     **overrides)
    trajectory = common.run_lab(optimizer, INITIAL, _loss, STEP_HINT,
                                eval_params=module.eval_params)
  return trajectory.iterates, trajectory.eval_points, hparams


def _wsm_checkpoints(iterates: list[Any], hparams: Any) -> tuple[int, list[int]]:
  """(checkpoint interval m, steps t whose iterate is a checkpoint): Algorithm 1 saves every m."""
  every = max(round(hparams.merge_window_fraction * STEP_HINT / hparams.num_snapshots), 1)
  return every, [t for t in range(1, len(iterates) + 1) if t % every == 0]


@pytest.mark.parametrize("overrides", [{}, {"num_snapshots": 4}],
                         ids=["defaults", "every_2_steps"])
def test_wsm_eval_point_is_the_mean_of_the_window(overrides):
  # The paper's main merge: the mean of the last k checkpoints (theta after every m-th step);
  # before the first checkpoint the eval point is the current iterate.
  iterates, eval_points, hparams = _wsm_eval_points(**overrides)
  _, saved = _wsm_checkpoints(iterates, hparams)
  reference = []
  for t in range(1, STEP_HINT + 1):
    window = [s for s in saved if s <= t][-hparams.num_snapshots:]
    reference.append(wsm_port.mean_merge([iterates[s - 1] for s in window]) if window
                     else iterates[t - 1])
  assert common.assert_trajectories_match(eval_points, reference, RTOL, "eval points") <= RTOL


@pytest.mark.parametrize("weights", ["1-sqrt", "cosine", "uniform"])
def test_wsm_eval_point_is_theorem_3_1_merge(weights):
  # Theorem 3.1 with w_i = f((i - 1) / k) over the base checkpoint and the k after it (c_0 = 0);
  # "uniform" is f = 1 - z, i.e. the mean.
  iterates, eval_points, hparams = _wsm_eval_points(merge_weights=weights)
  _, saved = _wsm_checkpoints(iterates, hparams)
  decay = {"uniform": "linear"}.get(weights, weights)
  reference = []
  for t in range(1, STEP_HINT + 1):
    window = [s for s in saved if s <= t][-hparams.num_snapshots:]
    if not window:
      reference.append(iterates[t - 1])
      continue
    checkpoints = [iterates[s - 1] for s in window]
    base = INITIAL  # c_0 = 0: the base's value does not enter the merge
    reference.append(wsm_port.theorem_merge(base, checkpoints, decay))
  assert common.assert_trajectories_match(eval_points, reference, RTOL, "eval points") <= RTOL


def test_wsm_training_iterates_are_adamw_at_the_constant_rate():
  assert _compare_iterates("wsm") <= RTOL


def test_reference_ports_agree_on_their_special_cases():
  # UBA at phi = 2 is the cosine; REX at z = 1/2 is 2/3; WSD's 1-sqrt at half the cooldown.
  assert uba_port.uba_learning_rate(10, 40, 2.0, 1.0) == pytest.approx(
      transformers_schedules.cosine_with_warmup(10, num_warmup_steps=0, num_training_steps=40))
  assert rex_port.rex_multiplier(20, 40) == pytest.approx(2 / 3)
  assert wsd_port.wsd_schedule(100, n_warmup=0, fract_decay=0.2, decay_type="sqrt")(90) == (
      pytest.approx(1 - math.sqrt(0.5)))
  assert sum(wsm_port.merge_weights_from_decay(wsm_port.decay_weights("1-sqrt", 4))) == (
      pytest.approx(1.0))
