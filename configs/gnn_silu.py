"""Held-out GNN variant: SiLU instead of ReLU in every MLP; same data and sizes as configs/gnn.py.

    algoperf-lab run --workload=gnn_silu --size=tiny \
        --submission=submissions/baselines/nadamw.py --workdir=runs/gnn_silu
"""

import ml_collections

from configs import gnn


def get_config(size: str = "tiny") -> ml_collections.ConfigDict:
  config = gnn.get_config(size)
  config.model.activation = "silu"
  return config
