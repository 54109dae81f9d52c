"""AdamW on lm_moe with DeepSeek-V3's auxiliary-loss-free balancing (a per-expert routing bias).

No balancing loss: a bias added to the routing scores for the top-k choice only moves by
±bias_update_rate after each step, towards the mean load (arXiv 2412.19437, §2.1.2; the
workload keeps it in model_state, outside the gradients).
"""

from typing import Any

from submissions.baselines.adamw import make_optimizer  # noqa: F401  (the training algorithm)
from submissions.lib import moe_routing

HPARAMS = {**moe_routing.HPARAMS, "bias_update_rate": 0.001}


def WORKLOAD_OPTIONS(hparams: Any) -> dict[str, Any]:  # noqa: N802  (the contract's name)
  return moe_routing.routing_options("aux_loss_free",
                                     bias_update_rate=hparams.bias_update_rate)
