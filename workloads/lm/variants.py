"""Held-out variants of the LM workload (registered in pyproject's entry points)."""

from algoperf_lab.variants import make_variant
from configs import lm_postnorm, lm_silu, lm_wide
from workloads.lm.workload import LmWorkload

LmSiluWorkload = make_variant(LmWorkload, "lm_silu", "lm with SiLU instead of GELU",
                              lm_silu.get_config)
LmPostnormWorkload = make_variant(LmWorkload, "lm_postnorm", "lm with post-norm blocks",
                                  lm_postnorm.get_config)
LmWideWorkload = make_variant(LmWorkload, "lm_wide", "lm at half the depth, 1.5x the width",
                              lm_wide.get_config)
