"""AdamW on lm_moe with DeepSeek-V3's auxiliary-loss-free balancing (a per-expert routing bias).

No balancing loss: a bias added to the routing scores for the top-k choice only moves by
±bias_update_rate after each step, towards the mean load (arXiv 2412.19437, §2.1.2; Wang et
al. 2024, arXiv 2408.15664; the workload keeps it in model_state, outside the gradients). The
update is Megatron-LM's `get_updated_expert_bias` (loads summed over the whole batch, one step
per optimizer step), checked in tests/reference/moe_routing_test.py.

Defaults: `bias_update_rate` 0.001 is DeepSeek-V3's γ (paper, §4.2) and Megatron-LM's
`moe_router_bias_update_rate` default. The z-loss 1e-3 is the lab's, shared by the four
baselines (submissions/lib/moe_routing.py); DeepSeek-V3 has none.

Where lm_moe departs from DeepSeek-V3, outside what WORKLOAD_OPTIONS can choose today:
- Score function. DeepSeek-V3's `Gate` (inference/model.py, commit 9b4e978) scores experts with
  a sigmoid, adds the bias to the sigmoid scores for the choice and normalises the chosen
  unbiased scores to sum to 1; Megatron-LM refuses the expert bias with softmax scores. lm_moe's
  router (workloads/lm/moe.py) adds the bias to softmax probabilities. The reference test runs
  the sigmoid gate (`routing.top_k_routing(..., "sigmoid")`, equal to DeepSeek-V3's to 3e-16);
  the layer does not call it yet, which needs a score-function option in the workload.
- DeepSeek-V3 also trains with a sequence-wise balance loss (§2.1.2), α = 0.0001 (§4.2). That
  loss is `micro_batch_lbl` with one sequence per micro-batch (Megatron-LM's `seq_aux_loss`;
  checked in the reference test), but the workload's `balance` options are exclusive, so this
  rule runs without it.
- DeepSeek-V3 scales the gates by `route_scale` (2.5 in its 671B config; 1.0 is ModelArgs'
  default); lm_moe's gates sum to 1.
"""

from typing import Any

from submissions.baselines.adamw import make_optimizer  # noqa: F401  (the training algorithm)
from submissions.lib import moe_routing

HPARAMS = {**moe_routing.HPARAMS, "bias_update_rate": 0.001}


def WORKLOAD_OPTIONS(hparams: Any) -> dict[str, Any]:  # noqa: N802  (the contract's name)
  return moe_routing.routing_options("aux_loss_free",
                                     bias_update_rate=hparams.bias_update_rate)
