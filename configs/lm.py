"""Byte-level decoder-only transformer LM: sizes tiny, small and full.

    algoperf-lab run --workload=lm --size=tiny --submission=submissions/baselines/nadamw.py \
        --workdir=runs/nadamw_lm_tiny

Expected (tiny, 2 CPU cores): NadamW reaches the validation target (see `targets.how_measured`)
in 1-3 minutes of submission time. Override any key on the command line, e.g.
`--config.model.num_layers=2 --config.targets.max_allowed_runtime_sec=60 --clock=wall` (on CPU the
default clock is process CPU time, whose budget is `targets.max_allowed_cpu_sec`).
"""

import ml_collections

from configs import tiny_targets

SIZES = ("tiny", "small", "full")


def base_config(size: str = "tiny") -> ml_collections.ConfigDict:
  """The config before configs/tiny_targets.json (variants start from this)."""
  if size not in SIZES:
    raise ValueError(f"unknown lm size {size!r}; choose one of {SIZES}.")
  config = ml_collections.ConfigDict()
  config.model = ml_collections.ConfigDict(dict(
      vocab_size=256, num_layers=4, d_model=128, num_heads=4, mlp_dim=512, max_seq_len=128,
      activation="gelu", norm_position="pre", tie_embeddings=True, dropout_rate=0.0,
      init_scale=1.0, rope_base=10000.0))
  config.data = ml_collections.ConfigDict(dict(
      source="janeausten", seq_len=128, validation_fraction=0.05, test_fraction=0.05,
      num_eval_train_examples=128, num_validation_examples=128, num_test_examples=128,
      eval_batch_size=128, token_dtype="uint16"))
  config.batch_size = 16
  config.targets = ml_collections.ConfigDict(dict(
      metric="bits_per_byte", direction="lower", validation=2.8876, test=2.8949,
      max_allowed_runtime_sec=151.0, max_allowed_cpu_sec=146.0, eval_period_time_sec=10.0, step_hint=400,
      how_measured=(
          "max_allowed_cpu_sec: scripts/measure_cpu_budgets.py --seeds=0,1 (2026-12-01, 2-core "
          "CPU shared with other jobs): 4/3 of the median process CPU time to the same target "
          "(103 s, 116 s); "
          "scripts/measure_targets.py --workloads=lm --seeds=0,1 --run_fraction=0.75 "
          "(2026-11-22, 2-core CPU): NadamW with AlgoPerf defaults; the worst over seeds of "
          "the best validation value within 70% of step_hint; budget 4/3 of the median "
          "time to reach it (104 s, 122 s, measured while other jobs shared the CPU)")))
  if size == "small":
    config.model.update(num_layers=8, d_model=512, num_heads=8, mlp_dim=2048, max_seq_len=512,
                        dropout_rate=0.1)
    config.data.update(seq_len=512, num_eval_train_examples=1024, num_validation_examples=1024,
                       num_test_examples=1024, eval_batch_size=64)
    config.batch_size = 64
    config.targets.update(
        validation=1.5, test=1.5, max_allowed_runtime_sec=3600.0, max_allowed_cpu_sec=0.0, eval_period_time_sec=120.0,
        step_hint=10000,
        how_measured="not measured (no GPU in the measuring session); a provisional value "
        "for a ~25M-parameter byte-level model, to be replaced by a measured NadamW run")
  elif size == "full":
    # The AlgoPerf LM scale: 12 layers, d=1024, sequence 1024, over a pre-tokenised corpus.
    config.model.update(vocab_size=50304, num_layers=12, d_model=1024, num_heads=16,
                        mlp_dim=4096, max_seq_len=1024, tie_embeddings=False, dropout_rate=0.0)
    config.data.update(source="token_file", seq_len=1024, num_eval_train_examples=4096,
                       num_validation_examples=8192, num_test_examples=8192,
                       eval_batch_size=64, token_dtype="uint16")
    config.batch_size = 256
    config.targets.update(
        metric="loss", validation=3.28, test=3.28, max_allowed_runtime_sec=31_967.0, max_allowed_cpu_sec=0.0,
        eval_period_time_sec=600.0, step_hint=48_000,
        how_measured="not measured here: 3.28 nats/token is the GPT-2 (124M) level "
        "validation loss on FineWeb reported by llm.c / nanoGPT speedruns; "
        "budget and step hint are provisional")
  return config


def get_config(size: str = "tiny") -> ml_collections.ConfigDict:
  config = base_config(size)
  return tiny_targets.apply(config, "lm") if size == "tiny" else config
