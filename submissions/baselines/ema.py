"""AdamW evaluated at the exponential moving average of its parameters (EMA weight averaging).

Training follows submissions/baselines/adamw.py exactly; `eval_params` hands the harness the
debiased EMA of the parameters after each step (Polyak & Juditsky 1992, "Acceleration of
stochastic approximation by averaging", exponential form; debiased as in Kingma & Ba 2015),
kept by submissions/lib/averaging.py, which also offers LAWA (Kaddour 2022) around any base
optimizer. The debiased average weighs x_1 like any other iterate; PyTorch's
`AveragedModel` + `get_ema_multi_avg_fn` (the common EMA of training code) instead starts from
a copy of x_1 and keeps β^{t−1} of it, which `averaging.ema(..., debias=False)` offers.
tests/reference/ema_test.py checks the iterates against PyTorch's AdamW and both averages
against their definitions (the debiased sum, PyTorch's `AveragedModel`).

Defaults: the AdamW baseline's, plus ema_decay 0.95, this lab's choice: a short horizon of
1/(1−β) = 20 steps (5% of the tiny LM's step_hint), because the target is met while the loss
still falls fast (the usual 0.999 would average over more steps than the run has).
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.baselines import adamw
from submissions.lib import averaging

HPARAMS = {**adamw.HPARAMS, "ema_decay": 0.95}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  return averaging.ema(adamw.make_optimizer(hparams, workload), hparams.ema_decay)


def eval_params(opt_state: Any, params: Any) -> Any:
  return averaging.averaged_params(opt_state, params)
