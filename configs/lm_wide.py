"""Held-out LM variant: half the depth, 1.5x the width (tiny: 2 layers, d=192, 0.93M params).

    algoperf-lab run --workload=lm_wide --size=tiny --submission=submissions/baselines/nadamw.py --workdir=runs/lm_wide
"""

import ml_collections

from configs import lm


def get_config(size: str = "tiny") -> ml_collections.ConfigDict:
  config = lm.get_config(size)
  width = config.model.d_model * 3 // 2
  config.model.update(num_layers=max(config.model.num_layers // 2, 1), d_model=width,
                      mlp_dim=4 * width)
  return config
