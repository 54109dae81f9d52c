"""Held-out variants of the GNN workload (registered in pyproject's entry points)."""

from algoperf_lab.variants import make_variant
from configs import gnn_deep, gnn_gelu, gnn_low_resource_task, gnn_noisy_task, gnn_silu
from workloads.gnn.workload import GnnWorkload

GnnGeluWorkload = make_variant(GnnWorkload, "gnn_gelu", "gnn with GELU instead of ReLU",
                               gnn_gelu.get_config)
GnnSiluWorkload = make_variant(GnnWorkload, "gnn_silu", "gnn with SiLU instead of ReLU",
                               gnn_silu.get_config)
GnnDeepWorkload = make_variant(GnnWorkload, "gnn_deep", "gnn with twice the message-passing steps",
                               gnn_deep.get_config)
GnnNoisyTaskWorkload = make_variant(
    GnnWorkload, "gnn_noisy_task", "gnn whose task 0 training labels carry heavy noise",
    gnn_noisy_task.get_config)
GnnLowResourceTaskWorkload = make_variant(
    GnnWorkload, "gnn_low_resource_task", "gnn whose task 1 is labelled on 5% of training molecules",
    gnn_low_resource_task.get_config)
