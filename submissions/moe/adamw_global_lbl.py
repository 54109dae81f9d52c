"""AdamW on lm_moe with the load-balancing loss over the global batch ("Demons in the Detail").

f_i is counted over the whole batch (an all-reduce over the data axis on a mesh) before
LBL = N_E Σ f_i p_i, weight 0.01: balance is asked of the batch, not of every sequence, so
experts may specialise by domain (Qiu et al. 2025, arXiv 2501.11873).
"""

from typing import Any

from submissions.baselines.adamw import make_optimizer  # noqa: F401  (the training algorithm)
from submissions.lib import moe_routing

HPARAMS = {**moe_routing.HPARAMS, "lbl_coef": 0.01}


def WORKLOAD_OPTIONS(hparams: Any) -> dict[str, Any]:  # noqa: N802  (the contract's name)
  return moe_routing.routing_options("global_batch_lbl", lbl_coef=hparams.lbl_coef,
                                     lbl_micro_batches=8)
