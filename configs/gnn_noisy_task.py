"""Held-out multi-task GNN variant: one QM9 target's training labels buried in heavy noise.

Task 0 (mu, the dipole moment) gets Gaussian noise of 3 standard deviations added to every
training label (labels are standardised); validation and test labels stay clean, so
`validation/task_0/mae` shows how much the noise hurts that task and the others.

    algoperf-lab run --workload=gnn_noisy_task --size=tiny \
        --submission=submissions/mtl/pcgrad.py --workdir=runs/gnn_noisy_task
"""

import ml_collections

from configs import gnn, tiny_targets


def get_config(size: str = "tiny") -> ml_collections.ConfigDict:
  config = gnn.base_config(size)
  config.data.update(dict(corrupted_task="mu", corrupted_label_noise_std=3.0,
                          corrupted_labels_dropped=0.0))
  if size == "tiny":
    config.targets.update(
        validation=0.2154, test=0.2219, max_allowed_runtime_sec=39.0, max_allowed_cpu_sec=58.0,
        how_measured=(
            "max_allowed_cpu_sec: scripts/measure_cpu_budgets.py --workloads=gnn_noisy_task --seeds=0,1 "
            "(2026-12-01, 2-core CPU, other jobs at the lowest priority): 4/3 of the median "
            "process CPU time to the same target (44 s, 43 s); "
            "scripts/measure_targets.py --workloads=gnn_noisy_task --seeds=0,1 --run_fraction=0.75 "
            "(2026-12-01, 2-core CPU): NadamW, worst over seeds of the best validation value "
            "within 70% of step_hint; budget 4/3 of the median wall time to reach it "
            "(32 s, 26 s, measured while other jobs shared the CPU)"))
  return tiny_targets.apply(config, "gnn_noisy_task") if size == "tiny" else config
