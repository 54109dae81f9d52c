"""AdamW on lm_moe with the load-balancing loss over the global batch ("Demons in the Detail").

f_i is counted over the whole batch (an all-reduce over the data axis on a mesh) before
LBL = N_E Σ f_i p_i, weight 0.01: balance is asked of the batch, not of every sequence, so
experts may specialise by domain (Qiu et al. 2025, arXiv 2501.11873).

Defaults: `lbl_coef` 0.01, as the micro-batch baseline (Switch Transformer's α; Megatron-LM's
recommended `moe_aux_loss_coeff`), so the two differ in where f_i is counted only.
`lbl_micro_batches` 8 only mirrors the distributed computation (per-shard p_i, all-reduced
f_i); the value is the whole batch's LBL for any divisor. The z-loss:
submissions/lib/moe_routing.py.

Where the lab departs from Megatron-LM's `global_aux_loss` (router.py `_apply_global_aux_loss`,
the implementation the paper's method has in Megatron): each rank there divides its local
probability sums by the global token count and the data-parallel average then divides again,
so its gradient is 1/dp_size of the paper's loss at the same coefficient (Megatron-LM issue
#3672, open; the value it logs, the sum over ranks, is the paper's). The lab follows the
paper's loss; Megatron as it is equals this rule at lbl_coef / dp_size (checked to 2.5e-16 in
tests/reference/moe_routing_test.py; at 8 ranks the router weights end 15% apart after 40
steps of the test's toy). Megatron also averages f_i over gradient-accumulation steps; the lab
takes one batch per step, so there is nothing to average.
"""

from typing import Any

from submissions.baselines.adamw import make_optimizer  # noqa: F401  (the training algorithm)
from submissions.lib import moe_routing

HPARAMS = {**moe_routing.HPARAMS, "lbl_coef": 0.01}


def WORKLOAD_OPTIONS(hparams: Any) -> dict[str, Any]:  # noqa: N802  (the contract's name)
  return moe_routing.routing_options("global_batch_lbl", lbl_coef=hparams.lbl_coef,
                                     lbl_micro_batches=8)
