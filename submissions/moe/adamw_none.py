"""AdamW on lm_moe with no load balancing (router z-loss only): the baseline the balancing rules beat.

The router is free to collapse onto a few experts; MaxVio in metrics.jsonl shows how far it
goes. WORKLOAD_OPTIONS are refused by every workload but lm_moe. Megatron-LM's equivalent is
`moe_router_load_balancing_type="none"` with `moe_z_loss_coeff=1e-3` (softmax router, its
default); the z-loss weight's origin is in submissions/lib/moe_routing.py.
"""

from submissions.baselines.adamw import make_optimizer  # noqa: F401  (the training algorithm)
from submissions.lib import moe_routing

HPARAMS = moe_routing.HPARAMS
WORKLOAD_OPTIONS = moe_routing.routing_options("none")
