"""The LM model and workload: sizes, rotary positions, causality, loss, parameter metadata."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec

from algoperf_lab import registry, spec
from configs import lm as lm_configs
from tests.helpers import SMALL_LM_OVERRIDES
from workloads.lm.model import DecoderLm, LmModelConfig, rotary_embedding

TRAIN, EVAL = spec.ForwardPassMode.TRAIN, spec.ForwardPassMode.EVAL
PARAMETER_COUNTS = {"tiny": (0.80e6, 0.84e6), "small": (20e6, 60e6), "full": (100e6, 1e9)}


def _count(tree: Any) -> int:
  return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))


@pytest.mark.parametrize("size", lm_configs.SIZES)
def test_sizes_abstractly(size: str) -> None:
  workload = registry.make_workload("lm", size)
  model = DecoderLm(workload.model_config)
  tokens = jax.ShapeDtypeStruct((2, workload.data_config.seq_len), jnp.int32)
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), tokens)
  logits = jax.eval_shape(model.apply, variables, tokens)
  assert logits.shape == (2, workload.data_config.seq_len, workload.model_config.vocab_size)
  low, high = PARAMETER_COUNTS[size]
  assert low <= _count(variables["params"]) <= high


# -- rotary positions ----------------------------------------------------------------------------
_rotary = jax.jit(rotary_embedding, static_argnums=1)


def _normal(seed: int, shape: tuple[int, ...]) -> np.ndarray:
  return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_rotary_embedding_rotates_channel_pairs() -> None:
  x = _normal(0, (2, 7, 3, 8))
  rotated = np.asarray(_rotary(x, 10000.0))
  assert rotated.shape == x.shape and rotated.dtype == x.dtype
  pair_norm = lambda y: y[..., :4] ** 2 + y[..., 4:] ** 2  # noqa: E731
  np.testing.assert_allclose(pair_norm(rotated), pair_norm(x), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(rotated[:, 0], x[:, 0], rtol=1e-6)  # position 0: angle 0
  assert not np.allclose(rotated[:, 1:], x[:, 1:])


def test_rotary_scores_depend_on_relative_position() -> None:
  q, k = _normal(1, (2, 8))
  length = 6
  q_rot = np.asarray(_rotary(np.tile(q, (1, length, 1, 1)), 100.0))[0, :, 0]
  k_rot = np.asarray(_rotary(np.tile(k, (1, length, 1, 1)), 100.0))[0, :, 0]
  scores = q_rot @ k_rot.T  # scores[m, n] depends only on m - n
  for offset in (0, 1, 3):
    diagonal = np.diagonal(scores, offset=offset)
    np.testing.assert_allclose(diagonal, diagonal[0], rtol=1e-4, atol=1e-5)


# -- the small workload --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_lm() -> tuple[spec.Workload, Any]:
  workload = registry.make_workload("lm", "tiny", SMALL_LM_OVERRIDES)
  params, _ = workload.init_model_fn(jax.random.PRNGKey(0))
  return workload, params


def _tokens(seed: int = 0, shape: tuple[int, int] = (2, 16)) -> np.ndarray:
  return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.int32)


def _apply(workload: spec.Workload, params: Any, tokens: Any, mode: spec.ForwardPassMode,
           rng: jax.Array, dropout_rate: Any) -> jax.Array:
  logits, _ = workload.model_fn(params, {"inputs": tokens}, None, mode, rng,
                                update_batch_norm=False, dropout_rate=dropout_rate)
  return logits


# One compile per (mode, rate) rather than one per operation, as eager dispatch would cost.
_jitted_apply = jax.jit(_apply, static_argnums=(0, 3, 5))


def _logits(workload: spec.Workload, params: Any, tokens: Any, mode: spec.ForwardPassMode = EVAL,
            rng: jax.Array | None = None, dropout_rate: float | None = None) -> jax.Array:
  rng = rng if rng is not None else jax.random.PRNGKey(0)
  return _jitted_apply(workload, params, tokens, mode, rng, dropout_rate)


def test_logits_shape_and_finite(small_lm: tuple[spec.Workload, Any]) -> None:
  workload, params = small_lm
  logits = _logits(workload, params, _tokens())
  assert logits.shape == (2, 16, 256)
  assert bool(jnp.all(jnp.isfinite(logits)))


def test_model_is_causal(small_lm: tuple[spec.Workload, Any]) -> None:
  workload, params = small_lm
  tokens = _tokens()
  changed = tokens.copy()
  changed[:, 10] = (tokens[:, 10] + 1) % 256
  before, after = _logits(workload, params, tokens), _logits(workload, params, changed)
  np.testing.assert_allclose(before[:, :10], after[:, :10], rtol=1e-5, atol=1e-5)
  assert not np.allclose(before[:, 10:], after[:, 10:], atol=1e-4)


def test_param_types(small_lm: tuple[spec.Workload, Any]) -> None:
  workload, _ = small_lm
  types = workload.model_params_types
  block = types["block_0"]
  assert types["embed"]["embedding"] is spec.ParameterType.EMBEDDING
  assert block["attention"]["query"]["kernel"] is spec.ParameterType.ATTENTION_Q
  assert block["attention"]["key"]["kernel"] is spec.ParameterType.ATTENTION_K
  assert block["attention"]["value"]["kernel"] is spec.ParameterType.ATTENTION_V
  assert block["attention"]["out"]["kernel"] is spec.ParameterType.ATTENTION_OUT
  for norm in (block["attention_norm"], block["mlp_norm"], types["final_norm"]):
    assert norm["scale"] is spec.ParameterType.LAYER_NORM_SCALE
  assert block["mlp"]["wi"]["kernel"] is spec.ParameterType.WEIGHT
  assert block["mlp"]["wo"]["kernel"] is spec.ParameterType.WEIGHT


def test_param_shapes_match_params(small_lm: tuple[spec.Workload, Any]) -> None:
  workload, params = small_lm
  shapes = jax.tree.map(lambda p: spec.ShapeTuple(p.shape), params)
  assert workload.param_shapes == shapes
  assert workload.param_shapes["embed"]["embedding"].shape_tuple == (256, 32)


def test_param_logical_axes(small_lm: tuple[spec.Workload, Any]) -> None:
  workload, params = small_lm
  axes = workload.param_logical_axes
  is_spec = lambda x: isinstance(x, PartitionSpec)  # noqa: E731
  assert jax.tree.structure(axes, is_leaf=is_spec) == jax.tree.structure(params)
  for spec_leaf, param in zip(jax.tree.leaves(axes, is_leaf=is_spec), jax.tree.leaves(params)):
    assert isinstance(spec_leaf, PartitionSpec)
    assert len(tuple(spec_leaf)) == param.ndim
  assert tuple(axes["embed"]["embedding"]) == ("vocab", "embed")
  assert tuple(axes["block_0"]["attention"]["query"]["kernel"]) == ("embed", "heads", "head_dim")


def test_param_logical_axes_before_init() -> None:
  workload = registry.make_workload("lm", "tiny", SMALL_LM_OVERRIDES)
  with pytest.raises(ValueError, match="init_model_fn"):
    _ = workload.param_logical_axes


# -- loss ----------------------------------------------------------------------------------------
def _loss(workload: spec.Workload, labels: Any, logits: Any, mask: Any = None,
          label_smoothing: float = 0.0) -> dict[str, np.ndarray]:
  losses = _jitted_loss(workload, labels, logits, mask, label_smoothing)
  return {key: np.asarray(value) for key, value in losses.items()}


_jitted_loss = jax.jit(lambda workload, labels, logits, mask, smoothing: workload.loss_fn(
    labels, logits, mask, smoothing), static_argnums=(0, 4))


def _log_softmax(logits: np.ndarray) -> np.ndarray:
  shifted = logits - logits.max(axis=-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def test_loss_masks_tokens(small_lm: tuple[spec.Workload, Any]) -> None:
  workload, _ = small_lm
  logits = _normal(2, (2, 4, 5))
  labels = np.array([[0, 1, 2, 3], [4, 3, 2, 1]], np.int32)
  mask = np.array([[1, 1, 0, 1], [0, 1, 1, 0]], np.float32)
  losses = _loss(workload, labels, logits, mask)
  assert losses["per_example"].shape == (2, 4)
  assert float(losses["n_valid_examples"]) == 5.0
  log_probs = _log_softmax(logits)
  manual = -sum(log_probs[b, t, labels[b, t]] for b in range(2) for t in range(4) if mask[b, t])
  np.testing.assert_allclose(float(losses["summed"]), manual, rtol=1e-5)
  np.testing.assert_allclose(losses["summed"], losses["per_example"].sum(), rtol=1e-6)
  assert np.all(losses["per_example"][mask == 0] == 0.0)
  # What the masked positions predict does not matter.
  noisy = logits + 10.0 * (1.0 - mask)[:, :, None] * _normal(3, logits.shape)
  np.testing.assert_allclose(_loss(workload, labels, noisy, mask)["summed"], losses["summed"],
                             rtol=1e-5)


def test_loss_without_mask_counts_every_token(small_lm: tuple[spec.Workload, Any]) -> None:
  workload, _ = small_lm
  logits = _normal(4, (3, 2, 7))
  labels = np.zeros((3, 2), np.int32)
  losses = _loss(workload, labels, logits)
  assert float(losses["n_valid_examples"]) == 6.0
  np.testing.assert_allclose(losses["summed"], -_log_softmax(logits)[..., 0].sum(), rtol=1e-5)


def test_label_smoothing_raises_loss_of_confident_prediction(
    small_lm: tuple[spec.Workload, Any]) -> None:
  workload, _ = small_lm
  labels = np.array([[1, 2]], np.int32)
  logits = 20.0 * np.eye(4, dtype=np.float32)[labels]  # confident and correct
  plain = float(_loss(workload, labels, logits)["summed"])
  smoothed = float(_loss(workload, labels, logits, label_smoothing=0.1)["summed"])
  assert plain < 1e-6
  assert smoothed > plain + 0.1


# -- config validation ---------------------------------------------------------------------------
_VALID = dict(vocab_size=256, num_layers=1, d_model=32, num_heads=2, mlp_dim=64, max_seq_len=32)


@pytest.mark.parametrize("changes, message", [
    ({"d_model": 30, "num_heads": 4}, "not divisible"),
    ({"d_model": 30, "num_heads": 2}, "even"),
    ({"activation": "swish"}, "activation 'swish' unknown"),
    ({"norm_position": "middle"}, "norm_position 'middle' unknown"),
])
def test_model_config_validation(changes: dict[str, Any], message: str) -> None:
  LmModelConfig(**_VALID)  # the base is valid
  with pytest.raises(ValueError, match=message):
    LmModelConfig(**{**_VALID, **changes})


def test_invalid_model_config_through_registry() -> None:
  with pytest.raises(ValueError, match="not divisible"):
    registry.make_workload("lm", "tiny", ("--config.model.num_heads=3",))
  with pytest.raises(ValueError, match="exceeds"):
    registry.make_workload("lm", "tiny", ("--config.data.seq_len=4096",))


def test_post_norm_untied_variant_shapes() -> None:
  config = dataclasses.replace(LmModelConfig(**_VALID), norm_position="post", tie_embeddings=False)
  model = DecoderLm(config)
  tokens = jax.ShapeDtypeStruct((1, 8), jnp.int32)
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), tokens)
  assert "final_norm" not in variables["params"] and "unembed" in variables["params"]
  assert jax.eval_shape(model.apply, variables, tokens).shape == (1, 8, 256)


# -- dropout -------------------------------------------------------------------------------------
def test_dropout_in_train_mode(small_lm: tuple[spec.Workload, Any]) -> None:
  workload, params = small_lm
  tokens = _tokens()
  evaluated = _logits(workload, params, tokens, EVAL)
  trained = _logits(workload, params, tokens, TRAIN, jax.random.PRNGKey(1), dropout_rate=0.3)
  assert not np.allclose(trained, evaluated, atol=1e-4)
  # The config's rate (0 here) applies when none is passed: no dropout.
  np.testing.assert_allclose(_logits(workload, params, tokens, TRAIN), evaluated, rtol=1e-5,
                             atol=1e-5)


def test_dropout_rate_may_be_traced(small_lm: tuple[spec.Workload, Any]) -> None:
  workload, params = small_lm
  tokens = _tokens()

  @jax.jit
  def train_logits(params: Any, rng: jax.Array, rate: jax.Array) -> jax.Array:
    return _apply(workload, params, tokens, TRAIN, rng, dropout_rate=rate)

  evaluated = _logits(workload, params, tokens, EVAL)
  key = jax.random.PRNGKey(5)
  dropped = train_logits(params, key, jnp.float32(0.5))
  assert not np.allclose(dropped, evaluated, atol=1e-4)
  assert not np.allclose(dropped, train_logits(params, jax.random.PRNGKey(6), jnp.float32(0.5)),
                         atol=1e-4)
  # The same compiled function with rate 0 keeps every unit.
  np.testing.assert_allclose(train_logits(params, key, jnp.float32(0.0)), evaluated, rtol=1e-5,
                             atol=1e-5)
