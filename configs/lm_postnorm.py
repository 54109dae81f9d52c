"""Held-out LM variant: post-norm residual blocks, norm(x + f(x)); same data as configs/lm.py.

    algoperf-lab run --workload=lm_postnorm --size=tiny --submission=submissions/baselines/nadamw.py --workdir=runs/lm_postnorm
"""

import ml_collections

from configs import lm


def get_config(size: str = "tiny") -> ml_collections.ConfigDict:
  config = lm.get_config(size)
  config.model.norm_position = "post"
  return config
