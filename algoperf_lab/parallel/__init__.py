"""Device mesh, partition rules for parameters/optimizer state/batches, multi-host start-up."""

from algoperf_lab.parallel.mesh import AXIS_NAMES, MeshConfig, make_mesh
from algoperf_lab.parallel.multihost import (DistributedConfig, config_from_env, initialize,
                                             is_primary, process_batch_slice)
from algoperf_lab.parallel.partitioning import (STRATEGIES, Strategy, batch_sharding,
                                                optimizer_state_shardings, param_shardings,
                                                shard_batch, with_shardings)

__all__ = ["AXIS_NAMES", "DistributedConfig", "MeshConfig", "STRATEGIES", "Strategy",
           "batch_sharding", "config_from_env", "initialize", "is_primary", "make_mesh",
           "optimizer_state_shardings", "param_shardings", "process_batch_slice",
           "shard_batch", "with_shardings"]
