"""NadamW (baselines/nadamw.py, AlgoPerf form, and baselines/nadamw_optax.py, optax form)
against AlgoPerf's NadamW baseline.

Reference: mlcommons/algorithmic-efficiency algorithms/baselines/self_tuning/
jax_nadamw_full_budget.py, commit 2c90454 (tests/reference/ports/algoperf_nadamw.py):
`scale_by_nadam`, `nadamw` and its warmup + cosine schedule, in numpy.

What is driven: the submission's own `init_optimizer_state(workload, ...)` from its HPARAMS,
which returns `(optax_state, update_fn)`; each step calls that `update_fn(grads, state,
params)` and `optax.apply_updates`, exactly what the submission's jitted `_train_step` does
after its backward pass (with `grad_clip` absent, the default). The rest of `_train_step` is
the workload's model and loss, which a toy cannot exercise and which carry no optimizer
arithmetic. step_hint 100 so that the 2 warmup steps (int(0.02 · 100)) are exercised; 40 steps
run into the cosine decay.
Before the fix (optax.nadamw): max relative iterate difference 5.2e-3 over 40 steps.
Measured 2026-12-05 after: 4.3e-17 over 40 steps. The optax form, built by its own
`make_optimizer` from its HPARAMS and driven as the lab's step drives it: 4.3e-17 as well.
"""

from __future__ import annotations

import optax

from tests.reference.common import (ToyWorkload, assert_trajectories_match, float64,
                                    lab_hparams, lab_optimizer, run_lab, submission_module)
from tests.reference.ports import algoperf_nadamw
from tests.reference.ports import baselines_problem as problem

COVERS = ["submissions/baselines/nadamw.py", "submissions/baselines/nadamw_optax.py"]
STEPS = 40
STEP_HINT = 100  # int(0.02 · 100) = 2 warmup steps
RTOL = 1e-12  # float64 rounding only


def test_defaults_are_algoperf_self_tuning_hparams():
  assert submission_module(COVERS[0]).HPARAMS == algoperf_nadamw.HPARAMS


def reference_trajectory() -> list:
  hparams = algoperf_nadamw.HPARAMS
  reference_optimizer = algoperf_nadamw.NadamW(
      algoperf_nadamw.jax_cosine_warmup(STEP_HINT, hparams),
      b1=1.0 - hparams["one_minus_beta1"], b2=hparams["beta2"], eps=1e-8,
      weight_decay=hparams["weight_decay"])
  return problem.run_reference(lambda t, p, g: reference_optimizer.step(p, g), STEPS)


def test_the_optax_form_follows_algoperf_nadamw():
  module = submission_module(COVERS[1])
  assert module.HPARAMS == algoperf_nadamw.HPARAMS
  with float64():
    workload = ToyWorkload(params=problem.initial_params(), step_hint=STEP_HINT)
    lab = run_lab(lab_optimizer(module, workload), workload.params, problem.loss, STEPS)
    reference = reference_trajectory()
  assert_trajectories_match(lab.iterates, reference, RTOL)


def trajectories() -> tuple[list, list]:
  module = submission_module(COVERS[0])
  with float64():
    workload = ToyWorkload(params=problem.initial_params(), step_hint=STEP_HINT)
    optax_state, update_fn = module.init_optimizer_state(workload, workload.params, None,
                                                         lab_hparams(module), None)
    built = optax.GradientTransformation(lambda params: optax_state, update_fn)
    lab = run_lab(built, workload.params, problem.loss, STEPS)
    reference = reference_trajectory()
  return lab.iterates, reference


def test_nadamw_follows_algoperf_nadamw():
  assert_trajectories_match(*trajectories(), RTOL)
