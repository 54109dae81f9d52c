"""Held-out GNN variant: twice the message-passing steps; same data and sizes as configs/gnn.py.

    algoperf-lab run --workload=gnn_deep --size=tiny \
        --submission=submissions/baselines/nadamw.py --workdir=runs/gnn_deep
"""

import ml_collections

from configs import gnn


def get_config(size: str = "tiny") -> ml_collections.ConfigDict:
  config = gnn.get_config(size)
  config.model.num_message_passing_steps = 2 * config.model.num_message_passing_steps
  return config
