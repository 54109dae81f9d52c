"""The lab's leaderboard on the tiny workloads: every bundled submission, 5 studies per cell.

    algoperf-lab study --study=configs/studies/leaderboard_tiny.py --workdir=results/leaderboard_tiny \\
        --executor=processes --workers=2 --threads_per_worker=1
    algoperf-lab leaderboard results/leaderboard_tiny/self_tuning \\
        --out=docs/leaderboard/self_tuning --baseline=adamw

Boards are scored apart: a board's submissions all run on its workloads.
- self_tuning: AlgoPerf's self-tuning ruleset (defaults only, 1.5x budget), every single-task
  submission on lm, vit and gnn;
- multi_task: the multi-task submissions (self-tuning) on gnn, the multi-task workload;
- moe: the MoE routing/load-balancing submissions (self-tuning) on lm_moe;
- external: the baselines tuned under the external ruleset (3 studies x 5 trials, AlgoPerf's
  shape), so those that miss with their defaults are shown tuned.
Each board names a baseline: its page compares every other submission with it, study by study.
Every run compiles from scratch (compilation_cache False, a board study's default), so each pays
its own compilation as an AlgoPerf run does, whatever ran before it on the machine.
"""

import ml_collections

SINGLE_TASK = {
    **{name: f"submissions/baselines/{name}.py" for name in (
        "adamw", "ema", "lion", "nadamw", "nadamw_optax", "nesterov", "sgd_momentum")},
    **{name: f"submissions/lr_free/{name}.py" for name in (
        "cocob", "dadapt_adamw", "dog", "dowg", "mechanic", "momo", "prodigy",
        "schedule_free_adamw", "schedule_free_prodigy")},
    "muon": "submissions/matrix/muon.py",
    **{name: f"submissions/sam/{name}.py" for name in ("asam", "sam")},
    **{name: f"submissions/schedules/{name}.py" for name in (
        "cosine_to_10pct", "cosine_to_zero", "inverse_sqrt", "linear_to_zero", "one_cycle",
        "rex", "sgdr", "uba", "warmup_constant", "wsd", "wsm")},
}
MULTI_TASK = {name: f"submissions/mtl/{name}.py" for name in (
    "linear_scalarisation", "pcgrad", "cagrad", "imtl_g", "mgda", "sam_mtl", "sam_mtl_cagrad")}
MOE = {name: f"submissions/moe/{name}.py" for name in (
    "adamw_none", "adamw_micro_lbl", "adamw_global_lbl", "adamw_aux_free")}
TUNED_BASELINES = {"adamw": "baselines/adamw", "nadamw_optax": "baselines/nadamw_optax",
                   "sgd_momentum": "baselines/sgd_momentum", "nesterov": "baselines/nesterov",
                   "lion": "baselines/lion", "muon": "matrix/muon"}


def get_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      name="leaderboard_tiny",
      size="tiny",
      seed=0,
      compilation_cache=False,
      boards=dict(
          self_tuning=dict(ruleset="self", studies=5, workloads=["lm", "vit", "gnn"],
                           submissions=SINGLE_TASK, baseline="adamw"),
          multi_task=dict(ruleset="self", studies=5, workloads=["gnn"], submissions=MULTI_TASK,
                          baseline="linear_scalarisation"),
          moe=dict(ruleset="self", studies=5, workloads=["lm_moe"], submissions=MOE,
                   baseline="adamw_none"),
          external=dict(ruleset="external", studies=3, trials=5, workloads=["lm", "vit", "gnn"],
                        submissions={n: f"submissions/{p}.py" for n, p in TUNED_BASELINES.items()},
                        search_spaces={n: f"configs/search_spaces/{n}.json"
                                       for n in TUNED_BASELINES}, baseline="adamw"),
      )))
