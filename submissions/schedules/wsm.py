"""AdamW, warmup then constant LR; evaluates a merge of the last k snapshots (WSM, no decay).

Tian et al., *WSM: Decay-Free Learning Rate Schedule via Checkpoint Merging for LLM Pre-training*
(2025) (`submissions/lib/schedules/wsm.py`, whose docstring gives the merge formulas). Training
never decays the rate; every m steps the parameters go into a k-slot buffer in the optimizer state,
m chosen so the k snapshots span `merge_window_fraction` of step_hint; `eval_params` returns their
merge with `merge_weights` "uniform", "exponential" (`merge_decay` a), "1-sqrt" or "cosine". The
authors published no code; Reference test: tests/reference/schedules_test.py checks 40 training
iterates (AdamW under transformers' constant-with-warmup) and the merged eval point at every step
against the paper's mean merge and Theorem 3.1 (c_0 = 1 - w_1, c_j = w_j - w_(j+1), c_k = w_k) for
1-sqrt and cosine decays (tests/reference/ports/wsm.py). Unit tests
(tests/submissions/wsm_test.py): merges worked by hand.

Defaults: "uniform" (the mean of the window) is the merge behind the paper's main results (its
1-sqrt weights did marginally better in its ablation; EMA worse); 8 checkpoints in the window is
the paper's best granularity ablation (8 checkpoints over an 80B-token window, as a public summary
of its Table 4 gives it) and the window, 20% of step_hint, is the lab's choice (the paper finds the
window's length the factor that matters most and measures it in tokens). The Theorem-3.1 weights
sample the decay at (j - 1) / k, so the newest interval keeps the full rate; the paper's sampling
was not readable here. learning_rate 0.002, b1 0.9, b2 0.99, weight_decay 0.05 and warmup_factor
0.05 are the lab's AdamW baseline's (submissions/baselines/adamw.py), so the schedule is the only
difference.
"""

from __future__ import annotations

from typing import Any

import jax
import optax

from algoperf_lab import spec
from submissions.lib.schedules import wsm
from submissions.lib.schedules.constant import warmup_constant

HPARAMS = {
    "learning_rate": 0.002,
    "b1": 0.9,
    "b2": 0.99,
    "weight_decay": 0.05,
    "warmup_factor": 0.05,
    "num_snapshots": 8,
    "merge_window_fraction": 0.2,
    "merge_weights": "uniform",
    "merge_decay": 0.7,
    "dropout_rate": 0.0,
}


def learning_rate(hparams: Any, workload: spec.Workload) -> optax.Schedule:
  return warmup_constant(hparams.learning_rate, workload.step_hint, hparams.warmup_factor)


def make_optimizer(hparams: Any, workload: spec.Workload) -> optax.GradientTransformation:
  every_steps = wsm.snapshot_interval(workload.step_hint, hparams.merge_window_fraction,
                                      hparams.num_snapshots)
  return optax.chain(
      optax.adamw(learning_rate(hparams, workload), b1=hparams.b1, b2=hparams.b2,
                  weight_decay=hparams.weight_decay),
      wsm.checkpoint_merge(hparams.num_snapshots, every_steps, hparams.merge_weights,
                           hparams.merge_decay))


_merged_params = jax.jit(wsm.merged_params)


def eval_params(opt_state: Any, params: Any) -> Any:
  return _merged_params(opt_state, params)
