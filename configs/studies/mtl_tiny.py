"""The multi-task study: aggregators, SAM and SAM-MTL on gnn and its two held-out variants.

    algoperf-lab study --config=configs/studies/mtl_tiny.py --workdir=runs/mtl_study
    python scripts/mtl_study.py --workdir=runs/mtl_study --seeds=0,1   # runs it, then its table
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      name="mtl_tiny",
      size="tiny",
      workloads=["gnn", "gnn_noisy_task", "gnn_low_resource_task"],
      submissions=dict(  # the name scoring uses (the file's stem) -> the file
          linear_scalarisation="submissions/mtl/linear_scalarisation.py",
          pcgrad="submissions/mtl/pcgrad.py",
          cagrad="submissions/mtl/cagrad.py",
          sam="submissions/sam/sam.py",  # SAM on the workload's loss: linear scalarisation
          sam_mtl="submissions/mtl/sam_mtl.py",  # with PCGrad
          sam_mtl_cagrad="submissions/mtl/sam_mtl_cagrad.py"),
      seeds=[0, 1, 2, 3, 4],  # 5: what a paired comparison by seed needs at least
      score_args=["--mtl_reference=linear_scalarisation"]))
