"""Held-out variants of the ViT workload (registered in pyproject's entry points)."""

from algoperf_lab.variants import make_variant
from configs import vit_glu, vit_map, vit_postnorm
from workloads.vit.workload import VitWorkload

VitPostnormWorkload = make_variant(VitWorkload, "vit_postnorm", "vit with post-norm blocks",
                                   vit_postnorm.get_config)
VitMapWorkload = make_variant(VitWorkload, "vit_map",
                              "vit with attention pooling (MAP) instead of average pooling",
                              vit_map.get_config)
VitGluWorkload = make_variant(VitWorkload, "vit_glu", "vit with a gated (GLU) MLP",
                              vit_glu.get_config)
