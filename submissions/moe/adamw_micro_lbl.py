"""AdamW on lm_moe with the load-balancing loss per micro-batch (the common implementation).

LBL = N_E Σ f_i p_i computed on each of 8 micro-batches (2 sequences each at the tiny batch
of 16; one data-parallel shard each on an 8-device mesh) and averaged: what "Demons in the
Detail" (arXiv 2501.11873) finds pushes every sequence to use all experts and stops them from
specialising by domain. It is Megatron-LM's `aux_loss` (`switch_load_balancing_loss_func`
with f_i over one rank's micro-batch, gradients averaged over the data-parallel ranks).

Defaults: `lbl_coef` 0.01 is the Switch Transformer's α = 10⁻² (Fedus et al. 2021) and
Megatron-LM's recommended starting value for `moe_aux_loss_coeff` (which defaults to 0).
`lbl_micro_batches` 8 is the lab's choice (the tiny batch on the 8-device mesh, a micro-batch
of a couple of sequences as in the paper's setting). The z-loss: submissions/lib/moe_routing.py.
"""

from typing import Any

from submissions.baselines.adamw import make_optimizer  # noqa: F401  (the training algorithm)
from submissions.lib import moe_routing

HPARAMS = {**moe_routing.HPARAMS, "lbl_coef": 0.01}


def WORKLOAD_OPTIONS(hparams: Any) -> dict[str, Any]:  # noqa: N802  (the contract's name)
  return moe_routing.routing_options("micro_batch_lbl", lbl_coef=hparams.lbl_coef,
                                     lbl_micro_batches=8)
