"""EMA weight averaging (submissions/baselines/ema.py, submissions/lib/averaging.py) against
PyTorch's AdamW for the iterates and two references for the evaluation point.

- Iterates: the submission trains exactly as the AdamW baseline; checked against
  pytorch/pytorch torch/optim/adamw.py `_single_tensor_adamw`, commit c15fcf4
  (tests/reference/ports/torch_adamw.py), as in adamw_test.py.
- Evaluation point, the submission's default (debiased): the average its docstring and
  averaging.py cite (Kingma & Ba 2015's bias correction applied to an EMA of the iterates),
  a_t = Σ_{s≤t} (1−β) β^{t−s} x_s / (1 − β^t), summed here directly over PyTorch's iterates
  (no code of the authors exists for it; the lab keeps it running, a_t = a_{t−1} + w_t (x_t −
  a_{t−1})).
- Evaluation point, `averaging.ema(..., debias=False)`: PyTorch's `AveragedModel` with
  `get_ema_multi_avg_fn(β)`, torch/optim/swa_utils.py, commit 7c5cdb7
  (tests/reference/ports/torch_ema.py), the common EMA of training code, which starts from a
  copy of x_1.
The module's own HPARAMS (ema_decay 0.95) on the baselines toy, step_hint 40, 40 steps.
Before the fix (the EMA weight computed in float32): eval points 2.8e-9 from the formula.
Measured 2026-12-05 after: iterates 5.3e-16; eval point 5.6e-16 (debiased, against the
formula) and 3.6e-16 (debias=False, against PyTorch's AveragedModel) over 40 steps.
"""

from __future__ import annotations

import numpy as np

from submissions.lib import averaging
from submissions.lib.schedules.cosine import warmup_cosine
from tests.reference.common import (ToyWorkload, assert_trajectories_match, float64,
                                    lab_hparams, lab_optimizer, run_lab, submission_module)
from tests.reference.ports import baselines_problem as problem
from tests.reference.ports.torch_adamw import AdamW
from tests.reference.ports.torch_ema import AveragedModel, get_ema_multi_avg_fn

COVERS = ["submissions/baselines/ema.py"]
STEPS = 40
RTOL = 1e-12  # float64 rounding only


def _debiased_ema(iterates: list[dict], decay: float) -> list[dict]:
  """a_t = Σ_{s≤t} (1−β) β^{t−s} x_s / (1 − β^t), for every t, summed directly."""
  averages = []
  for t in range(1, len(iterates) + 1):
    weights = [(1 - decay) * decay ** (t - s) / (1 - decay**t) for s in range(1, t + 1)]
    averages.append({k: sum(w * x[k] for w, x in zip(weights, iterates[:t]))
                     for k in iterates[0]})
  return averages


def trajectories(debias: bool = True) -> dict[str, tuple[list, list]]:
  """what -> (lab, reference), for the iterates and the evaluation points."""
  module = submission_module(COVERS[0])
  with float64():
    workload = ToyWorkload(params=problem.initial_params(), step_hint=STEPS)
    hparams = lab_hparams(module)
    if debias:
      optimizer = lab_optimizer(module, workload)
    else:  # the submission's base optimizer under PyTorch's EMA form
      base = module.adamw.make_optimizer(hparams, workload)
      optimizer = averaging.ema(base, hparams.ema_decay, debias=False)
    lab = run_lab(optimizer, workload.params, problem.loss, STEPS, eval_params=module.eval_params)
    schedule = warmup_cosine(hparams.learning_rate, workload.step_hint, hparams.warmup_factor)
    torch_adamw = AdamW(betas=(hparams.b1, hparams.b2), eps=1e-8,
                        weight_decay=hparams.weight_decay)
    iterates = problem.run_reference(
        lambda t, p, g: torch_adamw.step(p, g, float(schedule(t))), STEPS)
  if debias:
    averages = _debiased_ema(iterates, hparams.ema_decay)
  else:
    model = AveragedModel(problem.initial_params(), get_ema_multi_avg_fn(hparams.ema_decay))
    averages = []
    for x in iterates:
      model.update_parameters(x)
      averages.append({k: np.array(v) for k, v in model.params.items()})
  return {"iterates": (lab.iterates, iterates), "eval points": (lab.eval_points, averages)}


def test_ema_iterates_and_debiased_average_follow_their_references():
  for what, (lab, reference) in trajectories().items():
    assert_trajectories_match(lab, reference, RTOL, what)


def test_undebiased_ema_follows_pytorch_averaged_model():
  lab, reference = trajectories(debias=False)["eval points"]
  assert_trajectories_match(lab, reference, RTOL, "eval points")
