"""Target setting for the tiny workloads (`algoperf-lab set-targets`), AlgoPerf's procedure.

    algoperf-lab set-targets --study=configs/studies/target_setting_tiny.py \
        --out=results/target_setting_tiny

Three of AlgoPerf's four target-setting baselines (NadamW in the lab's optax form, AdamW,
Nesterov momentum), each tuned with its search space under the external ruleset, every
trial a fixed-horizon run; the best configuration of each re-run over 5 seeds. Departures
forced by a 2-core CPU, stated in targets.json: 3 trials per baseline (AlgoPerf: 200), 5
seeds (AlgoPerf: 20) and no heavy-ball baseline. Held-out variants are tuned again, as
AlgoPerf's were (`algorithms/target_setting_algorithms/<variant>/` in
mlcommons/algorithmic-efficiency holds each variant's own configuration): the base's
target-setting algorithm, with the same 3 trials, on the variant; its best re-run over the 5
seeds. The horizons (the new step
hints) are the steps the previous targets were read at (70% of the old step hints), so the
benchmark's cost stays as it was.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      size="tiny",
      baselines=dict(nadamw_optax="submissions/baselines/nadamw_optax.py",
                     adamw="submissions/baselines/adamw.py",
                     nesterov="submissions/baselines/nesterov.py"),
      search_spaces=dict(nadamw_optax="configs/search_spaces/nadamw_optax.json",
                         adamw="configs/search_spaces/adamw.json",
                         nesterov="configs/search_spaces/nesterov.json"),
      trials=3,
      seeds=5,
      # Evals per fixed-horizon run, to read each seed's best value (an lm or vit eval costs
      # as much as ~8 training steps, a gnn eval ~7: fewer there).
      evals_per_run=25,
      tuning_seed=0,
      # Budgets from 3 re-runs of the target-setter's first seeds made alone on the machine
      # (`set-targets --timing`): the tuning and seed runs may share the CPU with others.
      timing_runs=3,
      tune_variants=True,
      workloads=dict(
          gnn=dict(horizon=700, variants=["gnn_gelu", "gnn_silu", "gnn_deep", "gnn_noisy_task",
                                          "gnn_low_resource_task"]),
          vit=dict(horizon=350, variants=["vit_postnorm", "vit_map", "vit_glu"], evals_per_run=10),
          # lm_moe is set like a held-out variant of lm (its router options are the config's).
          lm=dict(horizon=300, variants=["lm_silu", "lm_postnorm", "lm_wide", "lm_moe"],
                  evals_per_run=10))))
