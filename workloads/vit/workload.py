"""The ViT workload: image classification, AlgoPerf's Workload contract."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from algoperf_lab import jax_sharding_utils, spec
from algoperf_lab.config import dataclass_from_config
from algoperf_lab.configured_workload import ConfiguredWorkload
from configs import vit as vit_configs
from algoperf_lab.data.device_iterator import DeviceIterator
from workloads import losses
from workloads.vit import input_pipeline
from workloads.vit.input_pipeline import ImageSplits, VitDataConfig
from workloads.vit.model import VisionTransformer, VitModelConfig

EvalSums = tuple[jax.Array, jax.Array, jax.Array]  # summed loss, correct, counted examples


def with_conv_types(types: dict[str, Any]) -> dict[str, Any]:
  """Marks the patch-embedding kernel CONV_WEIGHT (names alone cannot tell a conv apart)."""
  patch_embed = {**types["patch_embed"], "kernel": spec.ParameterType.CONV_WEIGHT}
  return {**types, "patch_embed": patch_embed}


class VitWorkload(ConfiguredWorkload):
  """Vision transformer on Fashion-MNIST (tiny), CIFAR-10 (small) or ImageNet (full)."""

  name = "vit"
  description = "vision transformer: Fashion-MNIST (tiny), CIFAR-10 (small), ImageNet ViT-S/16"
  sizes = vit_configs.SIZES

  @classmethod
  def get_config(cls, size: str) -> ml_collections.ConfigDict:
    return vit_configs.get_config(size)

  def __init__(self, config: ml_collections.ConfigDict, size: str):
    super().__init__(config, size)
    self.model_config = dataclass_from_config(VitModelConfig, config.model, f"{self.name}.model")
    self.data_config = dataclass_from_config(VitDataConfig, config.data, f"{self.name}.data")
    if self.data_config.image_size % self.model_config.patch_size:
      raise ValueError(f"data.image_size={self.data_config.image_size} is not divisible by "
                       f"model.patch_size={self.model_config.patch_size}.")
    self._model = VisionTransformer(self.model_config)
    self._splits: ImageSplits | None = None
    self._eval_cache: dict[str, list[spec.Batch]] = {}
    self._eval_step = jax.jit(self._eval_sums)

  # -- loss ------------------------------------------------------------------------------------
  @property
  def loss_type(self) -> spec.LossType:
    return spec.LossType.SOFTMAX_CROSS_ENTROPY

  # -- model -----------------------------------------------------------------------------------
  def _dummy_images(self) -> jax.Array:
    side = self.data_config.image_size
    return jnp.zeros((1, side, side, input_pipeline.NUM_CHANNELS[self.data_config.source]),
                     jnp.float32)

  def init_model_fn(self, rng: spec.RandomState) -> tuple[Any, None]:
    params = self._init_flax_params(lambda key: self._model.init(key, self._dummy_images()), rng)
    self._param_types = with_conv_types(self._param_types)
    return params, None

  def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: spec.Batch,
               model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
               update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[jax.Array, Any]:
    del update_batch_norm  # no batch norm here
    rate, deterministic = self._dropout(dropout_rate, self.model_config.dropout_rate, mode)
    logits_BxM = self._model.apply(
        {"params": params}, augmented_and_preprocessed_input_batch["inputs"],
        dropout_rate=rate, deterministic=deterministic,
        rngs=None if deterministic else {"dropout": rng})
    return logits_BxM, model_state

  def loss_fn(self, label_batch: jax.Array, logits_batch: jax.Array,
              mask_batch: jax.Array | None = None, label_smoothing: float = 0.0) -> spec.LossDict:
    """Cross-entropy per image; `n_valid_examples` counts the unmasked images."""
    return losses.softmax_cross_entropy(label_batch, logits_batch, mask_batch, label_smoothing)

  def is_output_params(self, param_key: str) -> bool:
    return param_key == "head"

  # -- data ------------------------------------------------------------------------------------
  def image_splits(self, data_dir: str | None) -> ImageSplits:
    if self._splits is None:
      splits = input_pipeline.load_splits(self.data_config, data_dir)
      if splits.num_classes != self.model_config.num_classes:
        raise ValueError(f"the data holds {splits.num_classes} classes, "
                         f"model.num_classes={self.model_config.num_classes}.")
      self._splits = splits
    return self._splits

  def build_input_queue(self, data_rng: spec.RandomState, split: str, data_dir: str | None,
                        global_batch_size: int) -> Iterator[spec.Batch]:
    """Training batches as device arrays sharded along the batch dimension."""
    if split != "train":
      raise ValueError(f"build_input_queue serves the train split; evaluation reads {split!r} "
                       "through eval_model.")
    seed = int(jax.random.randint(data_rng, (), 0, np.iinfo(np.int32).max))
    dataset = input_pipeline.train_batches(self.image_splits(data_dir), self.data_config,
                                           global_batch_size, seed)
    return DeviceIterator(iter(dataset))

  # -- evaluation ------------------------------------------------------------------------------
  def _eval_sums(self, params: Any, batch: spec.Batch) -> EvalSums:
    logits_BxM, _ = self.model_fn(params, batch, None, spec.ForwardPassMode.EVAL, None, False, 0.0)
    losses = self.loss_fn(batch["targets"], logits_BxM, batch["weights"])
    correct = (jnp.argmax(logits_BxM, axis=-1) == batch["targets"]) * batch["weights"]
    return losses["summed"], correct.sum(), losses["n_valid_examples"]

  def _eval_batches(self, split: str, data_dir: str | None) -> Iterator[spec.Batch]:
    if split in self._eval_cache:
      return iter(self._eval_cache[split])
    counts = {"train": self.data_config.num_eval_train_examples,
              "validation": self.data_config.num_validation_examples,
              "test": self.data_config.num_test_examples}
    batches = (jax_sharding_utils.shard_along_batch_dim(batch) for batch in
               input_pipeline.eval_batches(self.image_splits(data_dir), split,
                                           self.data_config, counts[split]))
    if not self.data_config.cache_eval_on_device:
      return batches
    self._eval_cache[split] = list(batches)
    return iter(self._eval_cache[split])

  def eval_model(self, global_batch_size: int, params: Any, model_state: Any,
                 rng: spec.RandomState, data_dir: str | None,
                 imagenet_v2_data_dir: str | None = None, global_step: int = 0) -> dict[str, float]:
    del global_batch_size, model_state, rng, imagenet_v2_data_dir, global_step
    results: dict[str, float] = {}
    for split in input_pipeline.SPLITS:
      summed, correct, count = jnp.float32(0.0), jnp.float32(0.0), jnp.float32(0.0)
      for batch in self._eval_batches(split, data_dir):
        batch_summed, batch_correct, batch_count = self._eval_step(params, batch)
        summed, correct, count = summed + batch_summed, correct + batch_correct, count + batch_count
      accuracy = float(correct / count)
      results[f"{split}/loss"] = float(summed / count)
      results[f"{split}/accuracy"] = accuracy
      results[f"{split}/error_rate"] = 1.0 - accuracy
    return results
