"""MoMo (Schaipp, Ohana, Eickenberg, Defazio & Gower 2023): momentum with a Polyak step size.

The authors' rule (fabian-sp/MoMo, momo/momo.py), built in submissions/lib/momo.py and checked
step by step in tests/reference/momo_test.py: d = ρd + (1 − ρ)g, f̄ = ρf̄ + (1 − ρ)f,
γ = ργ + (1 − ρ)⟨g, x⟩ (all started at the first batch), τ = min(α, ((1 + αλ)(f̄ − f* − γ) +
⟨d, x⟩)₊ / ‖d‖²), x ← (x − τd)/(1 + αλ). It replaces optax.contrib.momo, which with weight
decay moves to x/(1 + αλ) − τd instead. It reads this batch's loss, the `value` extra; τ is
logged.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib import lr_free
from submissions.lib import momo as momo_lib

# Defaults of the authors' `Momo.__init__` (fabian-sp/MoMo, momo/momo.py): lr (the cap alpha)
# 1, beta 0.9, lb 0 (the loss is non-negative), weight_decay 0; bias_correction False and
# use_fstar False are the only forms built. Constant alpha (no schedule).
HPARAMS = {
    "alpha": 1.0,
    "beta": 0.9,
    "lower_bound": 0.0,
    "weight_decay": 0.0,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  del workload
  return momo_lib.momo(alpha=hparams.alpha, beta=hparams.beta, lower_bound=hparams.lower_bound,
                       weight_decay=hparams.weight_decay)


def train_metrics(opt_state: Any, params: Any) -> dict[str, Any]:
  del params
  return {"tau": lr_free.find_state(opt_state, momo_lib.MomoState).tau}
