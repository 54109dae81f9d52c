"""SGD with Nesterov momentum, linear warmup and cosine decay over `step_hint`, in the optax form.

Nesterov (1983) as Sutskever et al. (2013), "On the importance of initialization and
momentum in deep learning", eq. 3–4, write it for deep learning: the gradient is taken at the
look-ahead point, v_{t+1} = μ v_t − η ∇f(θ_t + μ v_t), θ_{t+1} = θ_t + v_{t+1}. optax keeps
the look-ahead point Θ_t = θ_t + μ v_t itself as the parameters (Bengio et al. 2013's
reparametrisation): m_t = μ m_{t−1} + g_t, Θ_{t+1} = Θ_t − η (g_t + μ m_t).
This is PyTorch's Nesterov SGD with dampening 0 (torch/optim/sgd.py: b_t = μ b_{t−1} + g_t,
step g_t + μ b_t; tests/reference/nesterov_test.py runs this module beside a port of it);
tests/submissions/baselines_test.py also checks it against the look-ahead form by hand.
Weight decay (L2, added to the gradient before the momentum) and hyperparameter names follow
AlgoPerf's Nesterov baseline (mlcommons/algorithmic-efficiency, algorithms/
archived_paper_baselines/nesterov/jax/submission.py); the defaults, and the departure from
AlgoPerf's linear decay, are those of submissions/baselines/sgd_momentum.py.
"""

from __future__ import annotations

from typing import Any

import optax

from algoperf_lab import spec
from submissions.lib.schedules.cosine import warmup_cosine

HPARAMS = {
    "learning_rate": 0.5,
    "one_minus_beta1": 0.1,
    "weight_decay": 1e-5,
    "warmup_factor": 0.05,
    "dropout_rate": 0.0,
}


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  schedule = warmup_cosine(hparams.learning_rate, workload.step_hint, hparams.warmup_factor)
  return optax.chain(optax.add_decayed_weights(hparams.weight_decay),
                     optax.sgd(schedule, momentum=1.0 - hparams.one_minus_beta1, nesterov=True))
