"""The ViT model and workload: sizes and variants, parameter metadata, loss, dropout, eval."""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec

from algoperf_lab import registry, spec
from configs import tiny_targets
from configs import vit as vit_configs
from workloads.vit.model import VisionTransformer, VitModelConfig, sincos_2d

TRAIN, EVAL = spec.ForwardPassMode.TRAIN, spec.ForwardPassMode.EVAL
VARIANTS = ("vit", "vit_postnorm", "vit_map", "vit_glu")
# Parameter counts per size; GLU adds a second input projection, MAP an attention pool.
PARAMETER_COUNTS = {"tiny": (300e3, 700e3), "small": (5e6, 10e6), "full": (20e6, 24e6)}
FULL_COUNTS = {"vit_map": (22e6, 25e6), "vit_glu": (27e6, 31e6)}
# One layer of width 32 on the real Fashion-MNIST: compiles in seconds.
SMALL_VIT_OVERRIDES = (
    "--config.model.width=32", "--config.model.depth=1", "--config.model.num_heads=2",
    "--config.model.mlp_dim=64", "--config.data.num_eval_train_examples=64",
    "--config.data.num_validation_examples=100", "--config.data.num_test_examples=64",
    "--config.data.eval_batch_size=64",
)


def _count(tree: Any) -> int:
  return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))


@pytest.mark.parametrize("size", vit_configs.SIZES)
@pytest.mark.parametrize("name", VARIANTS)
def test_sizes_and_variants_abstractly(name: str, size: str) -> None:
  workload = registry.make_workload(name, size)
  model = VisionTransformer(workload.model_config)
  side = workload.data_config.image_size
  images = jax.ShapeDtypeStruct((2, side, side, 1 if size == "tiny" else 3), jnp.float32)
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), images)
  logits = jax.eval_shape(model.apply, variables, images)
  assert logits.shape == (2, workload.model_config.num_classes)
  low, high = FULL_COUNTS.get(name, PARAMETER_COUNTS["full"]) if size == "full" \
      else PARAMETER_COUNTS[size]
  assert low <= _count(variables["params"]) <= high


def test_full_is_vit_s16_on_imagenet() -> None:
  workload = registry.make_workload("vit", "full")
  c = workload.model_config
  assert (c.width, c.depth, c.num_heads, c.mlp_dim, c.patch_size) == (384, 12, 6, 1536, 16)
  assert workload.data_config.image_size == 224 and c.num_classes == 1000
  assert workload.validation_target_value == pytest.approx(1 - 0.22691)
  assert workload.test_target_value == pytest.approx(1 - 0.3481)
  assert workload.max_allowed_runtime_sec == 69_768 and workload.eval_period_time_sec == 420
  assert "AlgoPerf imagenet_vit" in workload.targets.how_measured


@pytest.mark.parametrize("name, field, value", [
    ("vit_postnorm", "norm_position", "post"), ("vit_map", "pooling", "map"),
    ("vit_glu", "mlp", "glu")])
def test_variants_change_only_the_model(name: str, field: str, value: str) -> None:
  """Same data and schedule; the model changes, and at tiny the measured targets too."""
  for size in vit_configs.SIZES:
    base, variant = (registry.workload_config(n, size) for n in ("vit", name))
    assert variant.model[field] == value and base.model[field] != value
    assert variant.data == base.data and variant.batch_size == base.batch_size
    if size == "tiny" and _installed(name) != _installed("vit"):
      # set-targets installs a base before its variants: compare the variant with the base's
      # targets from the same procedure (configs/tiny_targets.json ignored)
      with tiny_targets.ignored():
        base = registry.workload_config("vit", size)
    assert variant.targets.step_hint == base.targets.step_hint
    assert dict(variant.model, **{field: base.model[field]}) == dict(base.model)
    if size == "tiny":  # held-out variants get targets of their own, measured as the base's
      assert variant.targets.validation != base.targets.validation
      assert ("algoperf-lab set-targets" in variant.targets.how_measured  # installed
              or "measure_targets.py --workloads=" + name in variant.targets.how_measured)
    else:
      assert variant.targets == base.targets


def test_variant_structure() -> None:
  shapes = {}
  for name in VARIANTS:
    config = registry.make_workload(name, "tiny", SMALL_VIT_OVERRIDES).model_config
    images = jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32)
    shapes[name] = nn.unbox(jax.eval_shape(VisionTransformer(config).init,
                                           jax.random.PRNGKey(0), images))["params"]
  assert "encoder_norm" in shapes["vit"] and "encoder_norm" not in shapes["vit_postnorm"]
  assert "map_head" in shapes["vit_map"] and "map_head" not in shapes["vit"]
  assert shapes["vit_map"]["map_head"]["probe"].shape == (1, 1, 32)
  assert "wi_linear" in shapes["vit_glu"]["block_0"]["mlp"]
  assert "wi_linear" not in shapes["vit"]["block_0"]["mlp"]


def test_sincos_positions() -> None:
  table = sincos_2d(7, 64)
  assert table.shape == (1, 49, 64) and table.dtype == np.float32
  assert np.abs(table).max() <= 1.0
  assert len(np.unique(table[0].round(5), axis=0)) == 49  # every patch is told apart
  # The first half encodes the column, the second the row.
  np.testing.assert_allclose(table[0, 0, :32], table[0, 7, :32], atol=1e-6)
  np.testing.assert_allclose(table[0, 0, 32:], table[0, 1, 32:], atol=1e-6)


# -- the small workload --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_vit() -> tuple[spec.Workload, Any]:
  workload = registry.make_workload("vit", "tiny", SMALL_VIT_OVERRIDES)
  params, _ = workload.init_model_fn(jax.random.PRNGKey(0))
  return workload, params


def _images(seed: int = 0, batch: int = 3) -> np.ndarray:
  return np.random.default_rng(seed).standard_normal((batch, 28, 28, 1)).astype(np.float32)


def _apply(workload: spec.Workload, params: Any, images: Any, mode: spec.ForwardPassMode,
           rng: jax.Array, dropout_rate: Any) -> jax.Array:
  logits, _ = workload.model_fn(params, {"inputs": images}, None, mode, rng,
                                update_batch_norm=False, dropout_rate=dropout_rate)
  return logits


_jitted_apply = jax.jit(_apply, static_argnums=(0, 3, 5))


def _logits(workload: spec.Workload, params: Any, images: Any, mode: spec.ForwardPassMode = EVAL,
            rng: jax.Array | None = None, dropout_rate: float | None = None) -> jax.Array:
  rng = rng if rng is not None else jax.random.PRNGKey(0)
  return _jitted_apply(workload, params, images, mode, rng, dropout_rate)


def test_logits_shape_and_zero_head(small_vit: tuple[spec.Workload, Any]) -> None:
  workload, params = small_vit
  logits = _logits(workload, params, _images())
  assert logits.shape == (3, 10)
  np.testing.assert_allclose(logits, 0.0, atol=1e-5)  # the head starts at zero, as AlgoPerf's
  moved = jax.tree.map(lambda p: p + 0.1, params)
  assert bool(jnp.all(jnp.isfinite(_logits(workload, moved, _images()))))
  assert not np.allclose(_logits(workload, moved, _images(0)), _logits(workload, moved, _images(1)))


def test_param_types(small_vit: tuple[spec.Workload, Any]) -> None:
  workload, _ = small_vit
  types = workload.model_params_types
  attention = types["block_0"]["attention"]
  for name, kind in (("query", "ATTENTION_Q"), ("key", "ATTENTION_K"), ("value", "ATTENTION_V"),
                     ("out", "ATTENTION_OUT")):
    assert attention[name]["kernel"] is spec.ParameterType[kind]
    assert attention[name]["bias"] is spec.ParameterType.ATTENTION_BIAS
  for norm in (types["block_0"]["attention_norm"], types["block_0"]["mlp_norm"],
               types["encoder_norm"]):
    assert norm["scale"] is spec.ParameterType.LAYER_NORM_SCALE
    assert norm["bias"] is spec.ParameterType.LAYER_NORM_BIAS
  assert types["patch_embed"]["kernel"] is spec.ParameterType.CONV_WEIGHT
  assert types["patch_embed"]["bias"] is spec.ParameterType.BIAS
  assert types["block_0"]["mlp"]["wi"]["kernel"] is spec.ParameterType.WEIGHT
  assert types["head"]["kernel"] is spec.ParameterType.WEIGHT
  assert types["head"]["bias"] is spec.ParameterType.BIAS
  assert workload.is_output_params("head") and not workload.is_output_params("pre_logits")


def test_learned_positions_and_probe_types() -> None:
  workload = registry.make_workload("vit_map", "tiny", SMALL_VIT_OVERRIDES
                                    + ("--config.model.posemb=learned",))
  workload.init_model_fn(jax.random.PRNGKey(0))
  types = workload.model_params_types
  assert types["pos_embedding"]["embedding"] is spec.ParameterType.EMBEDDING
  assert workload.param_shapes["pos_embedding"]["embedding"].shape_tuple == (1, 49, 32)
  assert types["map_head"]["probe"] is spec.ParameterType.WEIGHT
  assert types["map_head"]["attention"]["query"]["kernel"] is spec.ParameterType.ATTENTION_Q


def test_param_shapes_match_params(small_vit: tuple[spec.Workload, Any]) -> None:
  workload, params = small_vit
  assert workload.param_shapes == jax.tree.map(lambda p: spec.ShapeTuple(p.shape), params)
  assert workload.param_shapes["patch_embed"]["kernel"].shape_tuple == (4, 4, 1, 32)
  assert workload.param_shapes["block_0"]["attention"]["query"]["kernel"].shape_tuple == (32, 2, 16)


def test_param_logical_axes(small_vit: tuple[spec.Workload, Any]) -> None:
  workload, params = small_vit
  axes = workload.param_logical_axes
  is_spec = lambda x: isinstance(x, PartitionSpec)  # noqa: E731
  assert jax.tree.structure(axes, is_leaf=is_spec) == jax.tree.structure(params)
  for spec_leaf, param in zip(jax.tree.leaves(axes, is_leaf=is_spec), jax.tree.leaves(params)):
    assert isinstance(spec_leaf, PartitionSpec) and len(tuple(spec_leaf)) == param.ndim
  attention = axes["block_0"]["attention"]
  assert tuple(attention["query"]["kernel"]) == ("embed", "heads", "head_dim")
  assert tuple(attention["query"]["bias"]) == ("heads", "head_dim")
  assert tuple(attention["out"]["kernel"]) == ("heads", "head_dim", "embed")
  assert tuple(axes["block_0"]["mlp"]["wi"]["kernel"]) == ("embed", "mlp")
  assert tuple(axes["head"]["kernel"]) == ("embed", "classes")
  assert tuple(axes["patch_embed"]["kernel"]) == (None, None, None, "embed")


def test_param_logical_axes_before_init() -> None:
  workload = registry.make_workload("vit", "tiny", SMALL_VIT_OVERRIDES)
  with pytest.raises(ValueError, match="init_model_fn"):
    _ = workload.param_logical_axes


# -- loss ----------------------------------------------------------------------------------------
_jitted_loss = jax.jit(lambda workload, labels, logits, mask, smoothing: workload.loss_fn(
    labels, logits, mask, smoothing), static_argnums=(0,))


def _loss(workload: spec.Workload, labels: Any, logits: Any, mask: Any = None,
          label_smoothing: Any = 0.0) -> dict[str, np.ndarray]:
  losses = _jitted_loss(workload, labels, logits, mask, label_smoothing)
  return {key: np.asarray(value) for key, value in losses.items()}


def _log_softmax(logits: np.ndarray) -> np.ndarray:
  shifted = logits - logits.max(axis=-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def test_loss_masks_examples(small_vit: tuple[spec.Workload, Any]) -> None:
  workload, _ = small_vit
  logits = np.random.default_rng(2).standard_normal((5, 10)).astype(np.float32)
  labels = np.array([0, 3, 9, 2, 5], np.int32)
  mask = np.array([1, 0, 1, 1, 0], np.float32)
  losses = _loss(workload, labels, logits, mask)
  assert losses["per_example"].shape == (5,) and float(losses["n_valid_examples"]) == 3.0
  manual = -sum(_log_softmax(logits)[i, labels[i]] for i in range(5) if mask[i])
  np.testing.assert_allclose(float(losses["summed"]), manual, rtol=1e-5)
  assert np.all(losses["per_example"][mask == 0] == 0.0)
  unmasked = _loss(workload, labels, logits)
  assert float(unmasked["n_valid_examples"]) == 5.0
  np.testing.assert_allclose(unmasked["summed"], -_log_softmax(logits)[range(5), labels].sum(),
                             rtol=1e-5)


def test_label_smoothing_plain_and_traced(small_vit: tuple[spec.Workload, Any]) -> None:
  workload, _ = small_vit
  labels = np.array([1, 2], np.int32)
  logits = 20.0 * np.eye(10, dtype=np.float32)[labels]  # confident and correct
  plain = float(_loss(workload, labels, logits)["summed"])
  smoothed = float(_loss(workload, labels, logits, label_smoothing=jnp.float32(0.1))["summed"])
  assert plain < 1e-6 and smoothed > plain + 0.1
  # Smoothing 0.1 over 10 classes: the target puts 0.91 on the label, 0.01 on each other class.
  log_probs = _log_softmax(logits)
  targets = np.full((2, 10), 0.01) + 0.9 * np.eye(10)[labels]
  np.testing.assert_allclose(smoothed, -(targets * log_probs).sum(), rtol=1e-4)


# -- dropout -------------------------------------------------------------------------------------
def test_dropout_in_train_mode(small_vit: tuple[spec.Workload, Any]) -> None:
  workload, params = small_vit
  moved = jax.tree.map(lambda p: p + 0.05, params)  # a non-zero head, so dropout shows
  evaluated = _logits(workload, moved, _images())
  trained = _logits(workload, moved, _images(), TRAIN, jax.random.PRNGKey(1), dropout_rate=0.3)
  assert not np.allclose(trained, evaluated, atol=1e-4)
  np.testing.assert_allclose(_logits(workload, moved, _images(), TRAIN), evaluated, rtol=1e-5,
                             atol=1e-5)  # the config's rate (0) applies when none is passed


def test_dropout_rate_may_be_traced(small_vit: tuple[spec.Workload, Any]) -> None:
  workload, params = small_vit
  moved = jax.tree.map(lambda p: p + 0.05, params)
  images = _images()

  @jax.jit
  def train_logits(params: Any, rng: jax.Array, rate: jax.Array) -> jax.Array:
    return _apply(workload, params, images, TRAIN, rng, dropout_rate=rate)

  evaluated = _logits(workload, moved, images)
  dropped = train_logits(moved, jax.random.PRNGKey(5), jnp.float32(0.5))
  assert not np.allclose(dropped, evaluated, atol=1e-4)
  np.testing.assert_allclose(train_logits(moved, jax.random.PRNGKey(5), jnp.float32(0.0)),
                             evaluated, rtol=1e-5, atol=1e-5)


# -- evaluation ----------------------------------------------------------------------------------
def test_eval_model_metrics_and_one_compile(small_vit: tuple[spec.Workload, Any]) -> None:
  workload, params = small_vit
  results = workload.eval_model(8, params, None, jax.random.PRNGKey(0), None)
  assert set(results) == {f"{split}/{metric}" for split in ("train", "validation", "test")
                          for metric in ("loss", "accuracy", "error_rate")}
  for split in ("train", "validation", "test"):
    # A zero head predicts class 0 everywhere: the loss is log 10, accuracy the class-0 share.
    assert results[f"{split}/loss"] == pytest.approx(np.log(10.0), rel=1e-4)
    assert 0.0 <= results[f"{split}/accuracy"] <= 0.3
    assert results[f"{split}/error_rate"] == pytest.approx(1.0 - results[f"{split}/accuracy"])
  again = workload.eval_model(8, params, None, jax.random.PRNGKey(0), None)
  assert again == results
  assert workload._eval_step._cache_size() == 1  # padded batches: one shape, one compile


# -- config validation ---------------------------------------------------------------------------
_VALID = dict(num_classes=10, patch_size=4, width=32, depth=1, num_heads=2, mlp_dim=64)


@pytest.mark.parametrize("changes, message", [
    ({"num_heads": 3}, "not divisible"),
    ({"width": 30, "num_heads": 2}, "width % 4"),
    ({"pooling": "cls"}, "pooling 'cls' unknown"),
    ({"norm_position": "middle"}, "norm_position 'middle' unknown"),
    ({"mlp": "swiglu"}, "mlp 'swiglu' unknown"),
    ({"posemb": "rope"}, "posemb 'rope' unknown"),
])
def test_model_config_validation(changes: dict[str, Any], message: str) -> None:
  VitModelConfig(**_VALID)  # the base is valid
  with pytest.raises(ValueError, match=message):
    VitModelConfig(**{**_VALID, **changes})


def test_invalid_config_through_registry() -> None:
  with pytest.raises(ValueError, match="not divisible by model.patch_size"):
    registry.make_workload("vit", "tiny", ("--config.model.patch_size=5",))
  with pytest.raises(ValueError, match="no key .model.nonsense."):
    registry.make_workload("vit", "tiny", ("--config.model.nonsense=1",))


def test_learned_posemb_with_post_norm_shapes() -> None:
  config = dataclasses.replace(VitModelConfig(**_VALID), posemb="learned", norm_position="post")
  images = jax.ShapeDtypeStruct((2, 8, 8, 3), jnp.float32)
  variables = nn.unbox(jax.eval_shape(VisionTransformer(config).init, jax.random.PRNGKey(0),
                                      images))
  assert variables["params"]["pos_embedding"]["embedding"].shape == (1, 4, 32)
  assert jax.eval_shape(VisionTransformer(config).apply, variables, images).shape == (2, 10)


def _installed(name: str) -> bool:
  """Whether set-targets has installed this workload's tiny targets."""
  import json

  path = tiny_targets.TARGETS_FILE
  return path.is_file() and name in json.loads(path.read_text())
