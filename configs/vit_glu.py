"""Held-out ViT variant: a gated MLP, gelu(x W) * (x V), at the same MLP width as configs/vit.py.

    algoperf-lab run --workload=vit_glu --size=tiny --submission=submissions/baselines/nadamw.py --workdir=runs/vit_glu
"""

import ml_collections

from configs import vit


def get_config(size: str = "tiny") -> ml_collections.ConfigDict:
  config = vit.get_config(size)
  config.model.mlp = "glu"
  return config
