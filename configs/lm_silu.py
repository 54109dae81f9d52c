"""Held-out LM variant: SiLU instead of GELU in the MLP; same data and sizes as configs/lm.py.

    algoperf-lab run --workload=lm_silu --size=tiny --submission=submissions/baselines/nadamw.py --workdir=runs/lm_silu
"""

import ml_collections

from configs import lm


def get_config(size: str = "tiny") -> ml_collections.ConfigDict:
  config = lm.get_config(size)
  config.model.activation = "silu"
  return config
