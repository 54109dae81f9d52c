"""AdamW (submissions/baselines/adamw.py) against PyTorch's AdamW.

Reference: pytorch/pytorch torch/optim/adamw.py `_single_tensor_adamw`, commit c15fcf4
(tests/reference/ports/torch_adamw.py). Both decay by η_t·λ·x_{t−1} (PyTorch's `p.mul_(1 −
lr·wd)`, optax's `add_decayed_weights` before `scale_by_learning_rate`), so optax.adamw needs
no wrapper. The module's own HPARAMS on the baselines toy (tests/reference/ports/
baselines_problem.py) with step_hint 40, so 40 steps cover the 2 warmup steps and the whole
cosine decay; PyTorch gets the lab's learning rate of each step, as an LR scheduler would set
it (the schedule itself has its own reference test).
Measured 2026-12-05: max relative iterate difference 5.3e-16 over 40 steps.
"""

from __future__ import annotations

from submissions.lib.schedules.cosine import warmup_cosine
from tests.reference.common import assert_trajectories_match, float64, run_submission
from tests.reference.ports import baselines_problem as problem
from tests.reference.ports.torch_adamw import AdamW

COVERS = ["submissions/baselines/adamw.py"]
STEPS = 40
RTOL = 1e-12  # float64 rounding only


def trajectories() -> tuple[list, list]:
  """The lab's iterates and PyTorch's."""
  lab = run_submission(COVERS[0], problem.initial_params(), problem.loss, STEPS, step_hint=STEPS)
  hparams = lab.hparams
  with float64():
    schedule = warmup_cosine(hparams.learning_rate, STEPS, hparams.warmup_factor)
    torch_adamw = AdamW(betas=(hparams.b1, hparams.b2), eps=1e-8,
                        weight_decay=hparams.weight_decay)
    reference = problem.run_reference(
        lambda t, p, g: torch_adamw.step(p, g, float(schedule(t))), STEPS)
  return lab.iterates, reference


def test_adamw_follows_pytorch_adamw():
  assert_trajectories_match(*trajectories(), RTOL)
