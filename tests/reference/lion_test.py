"""Lion (submissions/baselines/lion.py) against the authors' Lion.

Reference: google/automl lion/lion_pytorch.py `Lion.step`, commit 6a54c87
(tests/reference/ports/lion.py): decoupled decay p(1 − η_t λ), then −η_t sign(β1 m + (1−β1) g),
then m ← β2 m + (1−β2) g. optax.lion computes the same. The module's own HPARAMS (its
learning rate departs from the paper's advice on purpose; see its docstring) on the baselines
toy with step_hint 40 (2 warmup steps, the whole cosine decay); the reference gets the lab's
learning rate of each step.
Measured 2026-12-05: max relative iterate difference 5.1e-16 over 40 steps.
"""

from __future__ import annotations

from submissions.lib.schedules.cosine import warmup_cosine
from tests.reference.common import assert_trajectories_match, float64, run_submission
from tests.reference.ports import baselines_problem as problem
from tests.reference.ports.lion import Lion

COVERS = ["submissions/baselines/lion.py"]
STEPS = 40
RTOL = 1e-12  # float64 rounding only (no momentum coordinate sits at a sign change)


def trajectories() -> tuple[list, list]:
  lab = run_submission(COVERS[0], problem.initial_params(), problem.loss, STEPS, step_hint=STEPS)
  hparams = lab.hparams
  with float64():
    schedule = warmup_cosine(hparams.learning_rate, STEPS, hparams.warmup_factor)
    lion = Lion(betas=(hparams.b1, hparams.b2), weight_decay=hparams.weight_decay)
    reference = problem.run_reference(lambda t, p, g: lion.step(p, g, float(schedule(t))),
                                      STEPS)
  return lab.iterates, reference


def test_lion_follows_the_authors_lion():
  assert_trajectories_match(*trajectories(), RTOL)
