"""What the submissions/moe/ baselines share: AdamW (submissions/baselines/adamw.py) and the
routing options they hand the lm_moe workload through WORKLOAD_OPTIONS.

Every formula these options select (workloads/lm/routing.py) is checked against NVIDIA
Megatron-LM's `moe_utils.py`/`router.py` (commit d98e8a6) and DeepSeek-V3's `Gate` (commit
9b4e978) over 40 float64 training steps in tests/reference/moe_routing_test.py.

Defaults and their origin:
- The optimizer and its HPARAMS are the AdamW baseline's (see its module): the four rules
  differ in their routing only.
- Router z-loss weight 1e-3: ST-MoE's (Zoph et al. 2022, arXiv 2202.08906), also Megatron-LM's
  recommended starting value (its `moe_z_loss_coeff` defaults to off). The formula, mean over
  tokens of logsumexp(logits)², is Megatron's `z_loss_func`. Deliberate departure: the lab
  applies it under every balancing rule, including `none` and `aux_loss_free` (DeepSeek-V3 uses
  no z-loss), so that the four baselines differ in their load balancing only.
"""

from __future__ import annotations

from typing import Any

from submissions.baselines import adamw

Z_LOSS_COEF = 1e-3
HPARAMS = {**adamw.HPARAMS}


def routing_options(balance: str, **options: Any) -> dict[str, Any]:
  return {"balance": balance, "z_loss_coef": Z_LOSS_COEF, **options}
