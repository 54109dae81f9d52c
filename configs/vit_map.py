"""Held-out ViT variant: multi-head attention pooling (a learned probe) instead of averaging.

    algoperf-lab run --workload=vit_map --size=tiny --submission=submissions/baselines/nadamw.py --workdir=runs/vit_map
"""

import ml_collections

from configs import vit


def get_config(size: str = "tiny") -> ml_collections.ConfigDict:
  config = vit.get_config(size)
  config.model.pooling = "map"
  return config
