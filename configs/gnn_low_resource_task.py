"""Held-out multi-task GNN variant: one QM9 target observed on ~5% of the training molecules.

Task 1 (alpha, the polarisability) keeps its training label on a fixed 5% of the training
molecules and is masked out of the loss elsewhere; validation and test labels stay complete.

    algoperf-lab run --workload=gnn_low_resource_task --size=tiny \
        --submission=submissions/mtl/pcgrad.py --workdir=runs/gnn_low_resource_task
"""

import ml_collections

from configs import gnn, tiny_targets


def get_config(size: str = "tiny") -> ml_collections.ConfigDict:
  config = gnn.base_config(size)
  config.data.update(dict(corrupted_task="alpha", corrupted_label_noise_std=0.0,
                          corrupted_labels_dropped=0.95))
  if size == "tiny":
    config.targets.update(
        validation=0.2053, test=0.2092, max_allowed_runtime_sec=43.0, max_allowed_cpu_sec=69.0,
        how_measured=(
            "max_allowed_cpu_sec: scripts/measure_cpu_budgets.py --workloads=gnn_low_resource_task --seeds=0,1 "
            "(2026-12-01, 2-core CPU, other jobs at the lowest priority): 4/3 of the median "
            "process CPU time to the same target (49 s, 55 s); "
            "scripts/measure_targets.py --workloads=gnn_low_resource_task --seeds=0,1 --run_fraction=0.75 "
            "(2026-12-01, 2-core CPU): NadamW, worst over seeds of the best validation value "
            "within 70% of step_hint; budget 4/3 of the median wall time to reach it "
            "(44 s, 21 s, measured while other jobs shared the CPU)"))
  return tiny_targets.apply(config, "gnn_low_resource_task") if size == "tiny" else config
