"""What the submissions/moe/ baselines share: AdamW (submissions/baselines/adamw.py) and the
routing options they hand the lm_moe workload through WORKLOAD_OPTIONS."""

from __future__ import annotations

from typing import Any

from submissions.baselines import adamw

# ST-MoE's router z-loss weight (Zoph et al. 2022), the same for every balancing choice so
# that the four baselines differ in their load balancing only.
Z_LOSS_COEF = 1e-3
HPARAMS = {**adamw.HPARAMS}


def routing_options(balance: str, **options: Any) -> dict[str, Any]:
  return {"balance": balance, "z_loss_coef": Z_LOSS_COEF, **options}
