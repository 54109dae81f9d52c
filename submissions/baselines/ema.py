"""AdamW evaluated at the exponential moving average of its parameters (EMA weight averaging).

Training follows submissions/baselines/adamw.py exactly; `eval_params` hands the harness the
debiased EMA of the parameters after each step (Polyak & Juditsky 1992, "Acceleration of
stochastic approximation by averaging", exponential form; debiased as in Kingma & Ba 2015),
kept by submissions/lib/averaging.py, which also offers LAWA (Kaddour 2022) around any base
optimizer. The decay is short, a horizon of 1/(1−β) = 20 steps (5% of the tiny LM's
step_hint), because the target is met while the loss still falls fast.
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
