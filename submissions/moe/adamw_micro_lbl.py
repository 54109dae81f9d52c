"""AdamW on lm_moe with the load-balancing loss per micro-batch (the common implementation).

LBL = N_E Σ f_i p_i computed on each of 8 micro-batches (2 sequences each at the tiny batch
of 16; one data-parallel shard each on an 8-device mesh) and averaged, weight 0.01 (Switch
Transformer's): what "Demons in the Detail" (arXiv 2501.11873) finds pushes every sequence
to use all experts and stops them from specialising by domain.
"""

from typing import Any

from submissions.baselines.adamw import make_optimizer  # noqa: F401  (the training algorithm)
from submissions.lib import moe_routing

HPARAMS = {**moe_routing.HPARAMS, "lbl_coef": 0.01}


def WORKLOAD_OPTIONS(hparams: Any) -> dict[str, Any]:  # noqa: N802  (the contract's name)
  return moe_routing.routing_options("micro_batch_lbl", lbl_coef=hparams.lbl_coef,
                                     lbl_micro_batches=8)
