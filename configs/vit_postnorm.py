"""Held-out ViT variant: post-norm encoder blocks, norm(x + f(x)); same data as configs/vit.py.

    algoperf-lab run --workload=vit_postnorm --size=tiny --submission=submissions/baselines/nadamw.py --workdir=runs/vit_postnorm
"""

import ml_collections

from configs import vit


def get_config(size: str = "tiny") -> ml_collections.ConfigDict:
  config = vit.get_config(size)
  config.model.norm_position = "post"
  return config
