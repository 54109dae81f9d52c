"""The LM workload: next-byte (or next-token) prediction, AlgoPerf's Workload contract."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from algoperf_lab import jax_sharding_utils, spec
from algoperf_lab.config import dataclass_from_config
from algoperf_lab.configured_workload import ConfiguredWorkload
from algoperf_lab.data.device_iterator import DeviceIterator
from configs import lm as lm_configs
from workloads import losses
from workloads.lm import input_pipeline
from workloads.lm.input_pipeline import LmDataConfig
from workloads.lm.model import DecoderLm, LmModelConfig


class LmWorkload(ConfiguredWorkload):
  """Decoder-only transformer LM on Jane Austen (bytes) or a pre-tokenised corpus."""

  name = "lm"
  description = "decoder-only transformer LM, byte-level Jane Austen (tiny/small), token file (full)"
  sizes = lm_configs.SIZES

  @classmethod
  def get_config(cls, size: str) -> ml_collections.ConfigDict:
    return lm_configs.get_config(size)

  def __init__(self, config: ml_collections.ConfigDict, size: str):
    super().__init__(config, size)
    self.model_config = dataclass_from_config(LmModelConfig, config.model, f"{self.name}.model")
    self.data_config = dataclass_from_config(LmDataConfig, config.data, f"{self.name}.data")
    if self.data_config.seq_len > self.model_config.max_seq_len:
      raise ValueError(f"data.seq_len={self.data_config.seq_len} exceeds "
                       f"model.max_seq_len={self.model_config.max_seq_len}.")
    self._model = DecoderLm(self.model_config)
    self._splits: dict[str, np.ndarray] | None = None
    self._eval_cache: dict[str, list[dict[str, jax.Array]]] = {}
    self._eval_step = jax.jit(self._summed_eval_loss)

  # -- loss ------------------------------------------------------------------------------------
  @property
  def loss_type(self) -> spec.LossType:
    return spec.LossType.SOFTMAX_CROSS_ENTROPY

  @property
  def is_byte_level(self) -> bool:
    return self.data_config.source in ("janeausten", "mixture")

  # -- model -----------------------------------------------------------------------------------
  def _dummy_tokens(self) -> jax.Array:
    return jnp.zeros((1, self.data_config.seq_len), jnp.int32)

  def init_model_fn(self, rng: spec.RandomState) -> tuple[Any, None]:
    return self._init_flax_params(lambda key: self._model.init(key, self._dummy_tokens()), rng), None

  def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: spec.Batch,
               model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
               update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[jax.Array, Any]:
    del update_batch_norm  # no batch norm here
    rate, deterministic = self._dropout(dropout_rate, self.model_config.dropout_rate, mode)
    logits_BxLxV = self._model.apply(
        {"params": params}, augmented_and_preprocessed_input_batch["inputs"],
        dropout_rate=rate, deterministic=deterministic,
        rngs=None if deterministic else {"dropout": rng})
    return logits_BxLxV, model_state

  def loss_fn(self, label_batch: jax.Array, logits_batch: jax.Array,
              mask_batch: jax.Array | None = None, label_smoothing: float = 0.0) -> spec.LossDict:
    """Cross-entropy per token; `n_valid_examples` counts the unmasked tokens."""
    return losses.softmax_cross_entropy(label_batch, logits_batch, mask_batch, label_smoothing)

  def is_output_params(self, param_key: str) -> bool:
    return param_key in ("unembed", "embed")

  # -- data ------------------------------------------------------------------------------------
  def token_splits(self, data_dir: str | None) -> dict[str, np.ndarray]:
    if self._splits is None:
      self._splits = input_pipeline.load_token_splits(self.data_config, data_dir)
    return self._splits

  def build_input_queue(self, data_rng: spec.RandomState, split: str, data_dir: str | None,
                        global_batch_size: int) -> Iterator[spec.Batch]:
    """Training batches as device arrays sharded along the batch dimension."""
    if split != "train":
      raise ValueError(f"build_input_queue serves the train split; evaluation reads {split!r} "
                       "through eval_model.")
    seed = int(jax.random.randint(data_rng, (), 0, np.iinfo(np.int32).max))
    return DeviceIterator(iter(self._train_dataset(data_dir, global_batch_size, seed)))

  def _train_dataset(self, data_dir: str | None, global_batch_size: int, seed: int) -> Any:
    return input_pipeline.train_batches(self.token_splits(data_dir)["train"],
                                        self.data_config.seq_len, global_batch_size, seed)

  def _eval_dataset(self, split: str, data_dir: str | None,
                    num_examples: int) -> Iterator[dict[str, np.ndarray]]:
    return input_pipeline.eval_batches(self.token_splits(data_dir)[split],
                                       self.data_config.seq_len, num_examples,
                                       self.data_config.eval_batch_size)

  # -- evaluation ------------------------------------------------------------------------------
  def _summed_eval_loss(self, params: Any, batch: spec.Batch) -> tuple[jax.Array, jax.Array]:
    logits, _ = self.model_fn(params, batch, None, spec.ForwardPassMode.EVAL, None, False, 0.0)
    losses = self.loss_fn(batch["targets"], logits, batch["weights"])
    return losses["summed"], losses["n_valid_examples"]

  def _eval_batches(self, split: str, data_dir: str | None) -> list[dict[str, jax.Array]]:
    if split not in self._eval_cache:
      counts = {"train": self.data_config.num_eval_train_examples,
                "validation": self.data_config.num_validation_examples,
                "test": self.data_config.num_test_examples}
      batches = self._eval_dataset(split, data_dir, counts[split])
      self._eval_cache[split] = [jax_sharding_utils.replicate(b) for b in batches]
    return self._eval_cache[split]

  def eval_model(self, global_batch_size: int, params: Any, model_state: Any,
                 rng: spec.RandomState, data_dir: str | None,
                 imagenet_v2_data_dir: str | None = None, global_step: int = 0) -> dict[str, float]:
    del global_batch_size, model_state, rng, imagenet_v2_data_dir, global_step
    results: dict[str, float] = {}
    for split in input_pipeline.SPLITS:
      summed, count = jnp.float32(0.0), jnp.float32(0.0)
      for batch in self._eval_batches(split, data_dir):
        batch_summed, batch_count = self._eval_step(params, batch)
        summed, count = summed + batch_summed, count + batch_count
      results.update(self._split_metrics(split, float(summed / count)))
    return results

  def _split_metrics(self, split: str, loss: float) -> dict[str, float]:
    """A split's mean loss per token as loss, perplexity and (byte-level) bits per byte."""
    results = {f"{split}/loss": loss,
               f"{split}/perplexity": math.exp(min(loss, 700.0)) if math.isfinite(loss) else loss}
    if self.is_byte_level:
      results[f"{split}/bits_per_byte"] = loss / math.log(2.0)
    return results
