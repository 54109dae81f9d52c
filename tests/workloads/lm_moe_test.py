"""The MoE layer (workloads/lm/moe.py) and the lm_moe workload: dispatch against a per-token
reference, capacity dropping, routing options, the aux-loss-free bias step, router metrics."""

from __future__ import annotations

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algoperf_lab import cli, registry, spec
from tests.helpers import SMALL_LM_OVERRIDES
from workloads.lm import routing
from workloads.lm.model import DecoderLm
from workloads.lm.moe import MoeConfig, MoeMlp, capacity_experts, dropless_experts

SMALL_MOE_OVERRIDES = (*SMALL_LM_OVERRIDES, "--config.model.num_layers=2",
                       "--config.moe.num_experts=4", "--config.moe.expert_mlp_dim=16")
TRAIN, EVAL = spec.ForwardPassMode.TRAIN, spec.ForwardPassMode.EVAL
T, D, F, E, K = 48, 8, 6, 4, 2


def _inputs(seed: int = 0):
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.standard_normal((T, D)), jnp.float32)
  wi = jnp.asarray(rng.standard_normal((E, D, F)), jnp.float32)
  wo = jnp.asarray(rng.standard_normal((E, F, D)), jnp.float32)
  experts = jnp.asarray(np.stack([rng.permutation(E)[:K] for _ in range(T)]), jnp.int32)
  gates = jnp.asarray(rng.random((T, K)), jnp.float32)
  return x, experts, gates, wi, wo


def _reference(x, experts, gates, wi, wo, kept=None) -> np.ndarray:
  """Σ_k gate · expert_k(x), one token and one expert at a time."""
  x, wi, wo = np.asarray(x, np.float64), np.asarray(wi, np.float64), np.asarray(wo, np.float64)
  out = np.zeros_like(x)
  for t in range(T):
    for k in range(K):
      if kept is None or kept[t, k]:
        e = int(experts[t, k])
        out[t] += float(gates[t, k]) * (np.asarray(nn.gelu(x[t] @ wi[e])) @ wo[e])
  return out


@pytest.mark.parametrize("method", ["ragged_dot", "blocked"])
def test_dropless_equals_the_per_token_reference(method: str) -> None:
  x, experts, gates, wi, wo = _inputs()
  got = dropless_experts(x, experts, gates, wi, wo, nn.gelu, method, block=8)
  np.testing.assert_allclose(np.asarray(got), _reference(x, experts, gates, wi, wo),
                             rtol=1e-4, atol=1e-4)


def test_blocked_grouped_matmul_handles_empty_experts() -> None:
  x, experts, gates, wi, wo = _inputs(1)
  experts = experts % 2  # experts 2 and 3 get nothing, 0 and 1 everything
  experts = experts.at[:, 1].set(1 - experts[:, 0])
  got = dropless_experts(x, experts, gates, wi, wo, nn.gelu, "blocked", block=8)
  np.testing.assert_allclose(np.asarray(got), _reference(x, experts, gates, wi, wo),
                             rtol=1e-4, atol=1e-4)


def test_capacity_with_room_for_all_equals_dropless() -> None:
  x, experts, gates, wi, wo = _inputs()
  got, dropped = capacity_experts(x, experts, gates, wi, wo, nn.gelu, capacity=T)
  assert int(dropped.sum()) == 0
  np.testing.assert_allclose(np.asarray(got), _reference(x, experts, gates, wi, wo),
                             rtol=1e-4, atol=1e-4)


def test_capacity_drops_second_choices_before_first_and_later_tokens_first() -> None:
  x, _, gates, wi, wo = _inputs()
  # Every token: first choice expert 0, second choice expert 1; capacity 10 per expert.
  experts = jnp.tile(jnp.array([[0, 1]], jnp.int32), (T, 1))
  got, dropped = capacity_experts(x, experts, gates, wi, wo, nn.gelu, capacity=10)
  kept = np.zeros((T, K), bool)
  kept[:10, 0] = kept[:10, 1] = True  # the first 10 tokens of each expert's queue
  np.testing.assert_array_equal(np.asarray(dropped), 2 - kept.sum(1))
  np.testing.assert_allclose(np.asarray(got), _reference(x, experts, gates, wi, wo, kept),
                             rtol=1e-4, atol=1e-4)
  assert float(routing.dropped_fraction(dropped, K)) == pytest.approx((2 * T - 20) / (2 * T))


def test_capacity_from_the_capacity_factor() -> None:
  assert MoeConfig(8, 2, 1, 16, "capacity", 1.25).capacity(1024) == 320  # 1.25·1024·2/8


def _layer(**overrides):
  config = MoeConfig(num_experts=E, top_k=K, num_shared_experts=1, expert_mlp_dim=F, **overrides)
  layer = MoeMlp(config, nn.gelu, nn.initializers.lecun_normal())
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 5, D))
  variables = layer.init(jax.random.PRNGKey(1), x)
  return layer, x, {"params": variables["params"], "router_bias": variables["router_bias"]}


def test_the_bias_steers_the_choice_but_not_the_gate_weights() -> None:
  layer, x, variables = _layer()
  biased = {"params": variables["params"],
            "router_bias": {"bias": jnp.array([0.0, 0.0, 10.0, 10.0])}}
  _, sown = layer.apply(biased, x, mutable=["moe_stats"])
  selected = sown["moe_stats"]["selected"][0].reshape(-1, E)
  np.testing.assert_array_equal(np.asarray(selected), np.tile([0, 0, 1, 1], (10, 1)))
  # The same output as gates built from the unbiased probabilities of experts 2 and 3.
  probs = np.asarray(sown["moe_stats"]["probs"][0].reshape(-1, E))
  p = nn.unbox(variables["params"])
  x_TxD = np.asarray(x.reshape(-1, D), np.float64)
  expected = np.zeros_like(x_TxD)
  for t in range(10):
    gate = probs[t, 2:] / probs[t, 2:].sum()
    for slot, e in enumerate((2, 3)):
      hidden = np.asarray(nn.gelu(x_TxD[t] @ np.asarray(p["wi"][e])))
      expected[t] += gate[slot] * (hidden @ np.asarray(p["wo"][e]))
    shared = np.asarray(nn.gelu(x_TxD[t] @ np.asarray(p["shared_wi"]["kernel"])))
    expected[t] += shared @ np.asarray(p["shared_wo"]["kernel"])
  got = layer.apply(biased, x, mutable=["moe_stats"])[0].reshape(-1, D)
  np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("score_function", ["softmax", "sigmoid"])
def test_the_layer_routes_with_top_k_routing(score_function: str) -> None:
  """MoeMlp's output = Σ_k gate · expert_k(x) + shared(x) with the experts and gates of
  routing.top_k_routing(router logits, bias, K, score_function), token by token."""
  layer, x, variables = _layer(score_function=score_function)
  bias = jnp.array([0.0, 0.05, -0.05, 0.1])
  biased = {"params": variables["params"], "router_bias": {"bias": bias}}
  got, sown = layer.apply(biased, x, mutable=["moe_stats"])
  logits = sown["moe_stats"]["logits"][0].reshape(-1, E)
  experts, gates, probs = routing.top_k_routing(logits, bias, K, score_function)
  np.testing.assert_allclose(np.asarray(sown["moe_stats"]["probs"][0].reshape(-1, E)),
                             np.asarray(probs), rtol=1e-6)
  p = nn.unbox(variables["params"])
  x_TxD = np.asarray(x.reshape(-1, D), np.float64)
  expected = np.zeros_like(x_TxD)
  for t in range(x_TxD.shape[0]):
    for k in range(K):
      e = int(experts[t, k])
      hidden = np.asarray(nn.gelu(x_TxD[t] @ np.asarray(p["wi"][e])))
      expected[t] += float(gates[t, k]) * (hidden @ np.asarray(p["wo"][e]))
    shared = np.asarray(nn.gelu(x_TxD[t] @ np.asarray(p["shared_wi"]["kernel"])))
    expected[t] += shared @ np.asarray(p["shared_wo"]["kernel"])
  np.testing.assert_allclose(np.asarray(got).reshape(-1, D), expected, rtol=1e-4, atol=1e-5)


def test_expert_kernels_carry_the_expert_axis() -> None:
  _, _, variables = _layer()
  axes = nn.get_partition_spec(variables)["params"]
  assert tuple(axes["wi"]) == ("expert", "embed", "mlp")
  assert tuple(axes["wo"]) == ("expert", "mlp", "embed")
  assert tuple(axes["router"]["kernel"]) == ("embed", None)


def test_tiny_has_about_the_dense_tiny_active_parameters_per_token() -> None:
  dense, moe = registry.make_workload("lm", "tiny"), registry.make_workload("lm_moe", "tiny")
  c = moe.moe_config
  assert (c.top_k + c.num_shared_experts) * c.expert_mlp_dim == pytest.approx(
      dense.model_config.mlp_dim, rel=0.02)
  assert (c.num_experts, c.top_k, c.num_shared_experts) == (8, 2, 1)


def test_the_dense_model_is_unchanged_without_moe() -> None:
  workload = registry.make_workload("lm", "tiny")
  tokens = jnp.zeros((1, 8), jnp.int32)
  variables = jax.eval_shape(DecoderLm(workload.model_config).init, jax.random.PRNGKey(0), tokens)
  assert set(variables) == {"params"}
  assert set(variables["params"]["block_0"]["mlp"]) == {"wi", "wo"}


# -- the workload --------------------------------------------------------------------------------
def _workload(**options):
  workload = registry.make_workload("lm_moe", "tiny", SMALL_MOE_OVERRIDES)
  if options:
    workload.configure_options(options)
  return workload


@pytest.mark.parametrize("options, message", [
    ({"balance": "sometimes"}, "balance='sometimes' is not one of none, micro_batch_lbl, "
                               "global_batch_lbl, aux_loss_free"),
    ({"lbl_coef": -1.0}, "lbl_coef=-1.0 must be a finite number of at least 0"),
    ({"z_loss_coef": float("inf")}, "z_loss_coef=inf must be a finite number of at least 0"),
    ({"lbl_micro_batches": 0}, "lbl_micro_batches=0 must be a whole number of at least 1"),
    ({"score_function": "tanh"}, "score_function='tanh' is not one of softmax, sigmoid"),
    ({"capacity": 2}, "does not accept the option(s) ['capacity']"),
])
def test_bad_options_are_one_line_errors(options, message) -> None:
  with pytest.raises(spec.WorkloadOptionError) as error:
    _workload(**options)
  assert message in str(error.value) and "\n" not in str(error.value)


def test_micro_batches_that_do_not_divide_the_batch_are_refused_before_compiling() -> None:
  """Issue 20: lbl_micro_batches=3 on a batch of 16 failed after 43 s of compiling."""
  workload = _workload(balance="micro_batch_lbl", lbl_micro_batches=3)
  with pytest.raises(spec.WorkloadOptionError, match="lbl_micro_batches=3 does not divide the "
                                                     "batch of 16"):
    workload.check_batch_size(16)
  workload.check_batch_size(15)  # a divisor is fine


def test_options_land_in_the_config_that_result_json_and_the_fingerprint_read() -> None:
  workload = _workload(balance="aux_loss_free", bias_update_rate=0.01)
  assert workload.config.routing.balance == "aux_loss_free"
  assert workload.config.to_dict()["routing"]["bias_update_rate"] == 0.01


def test_score_function_defaults_to_softmax_and_the_option_reaches_the_layers() -> None:
  workload = _workload()
  assert workload.config.routing.score_function == "softmax"
  assert workload.moe_config.score_function == "softmax"
  workload = _workload(score_function="sigmoid")
  assert workload.config.to_dict()["routing"]["score_function"] == "sigmoid"
  assert workload.moe_config.score_function == "sigmoid"
  # The model the workload applies routes with it: the sown probabilities are the sigmoid
  # scores normalised over the experts, and the choice is top_k_routing's.
  params, state = workload.init_model_fn(jax.random.PRNGKey(0))
  batch = _batch(workload)
  layers = jax.jit(lambda p, s, x: workload._apply(p, s, x, 0.0, True, None)[1])(  # noqa: SLF001
      params, state, batch["inputs"])
  for layer in layers:
    experts, _, probs = routing.top_k_routing(layer["logits"], jnp.zeros(4), K, "sigmoid")
    np.testing.assert_allclose(np.asarray(layer["probs"]), np.asarray(probs), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(layer["selected"]),
                                  np.asarray(jax.nn.one_hot(experts, 4).sum(axis=1)))


def test_moe_config_refuses_an_unknown_score_function() -> None:
  with pytest.raises(ValueError, match="score_function 'tanh' unknown"):
    MoeConfig(num_experts=E, top_k=K, num_shared_experts=0, expert_mlp_dim=F,
              score_function="tanh")


def _batch(workload):
  queue = workload.build_input_queue(jax.random.PRNGKey(0), "train", None,
                                     workload.default_batch_size)
  return next(queue)


def _new_state(workload, params, batch, state, mode, update_batch_norm):
  """model_fn's new model_state, jitted (eager flax costs seconds of op-by-op compiles)."""
  step = jax.jit(lambda p, b, s: workload.model_fn(p, b, s, mode, None, update_batch_norm)[1])
  return step(params, batch, state)


def test_aux_free_bias_takes_one_sign_step_in_training_only() -> None:
  workload = _workload(balance="aux_loss_free", bias_update_rate=0.01, z_loss_coef=0.0)
  params, state = workload.init_model_fn(jax.random.PRNGKey(0))
  batch = _batch(workload)
  trained = _new_state(workload, params, batch, state, TRAIN, True)
  for layer in range(2):
    load = trained["stats"]["load"][layer]
    expected = routing.aux_free_bias_update(jnp.zeros(4), load, 0.01)
    np.testing.assert_allclose(np.asarray(trained["router_bias"][f"block_{layer}"]["mlp"]["bias"]),
                               np.asarray(expected))
    assert float(jnp.abs(expected).sum()) > 0  # an untrained router is not balanced
    assert float(load.sum()) == batch["inputs"].size * 2  # top-2 choices of every token
  evaluated = _new_state(workload, params, batch, trained, EVAL, False)
  assert jax.tree.all(jax.tree.map(jnp.array_equal, evaluated["router_bias"],
                                   trained["router_bias"]))
  assert workload.auxiliary_loss(trained) is None  # no loss term: balancing is the bias


def test_auxiliary_loss_is_the_weighted_mean_over_layers() -> None:
  workload = _workload(balance="micro_batch_lbl", lbl_coef=0.1, z_loss_coef=0.01,
                       lbl_micro_batches=4)
  params, state = workload.init_model_fn(jax.random.PRNGKey(0))
  new_state = _new_state(workload, params, _batch(workload), state, TRAIN, True)
  stats = new_state["stats"]
  expected = 0.1 * stats["lbl"].mean() + 0.01 * stats["z_loss"].mean()
  assert float(workload.auxiliary_loss(new_state)) == pytest.approx(float(expected), rel=1e-6)
  assert bool((stats["lbl"] >= 1.0).all())  # N_E Σ f p ≥ 1 per micro-batch... on average
  metrics = workload.train_step_metrics(new_state)
  assert set(metrics) == {f"moe/layer_{l}/{name}" for l in range(2)
                          for name in ("lbl", "z_loss", "max_vio", "router_entropy",
                                       "dropped_fraction")}


def test_eval_counts_every_choice_by_domain(tmp_path) -> None:
  workload = _workload()
  params, state = workload.init_model_fn(jax.random.PRNGKey(0))
  results = workload.eval_model(8, params, state, None, None)
  counts = np.array([[[results[f"validation/moe/layer_{l}/count/e{e}_d{d}"] for d in range(2)]
                      for e in range(4)] for l in range(2)])
  tokens = 16 * 32  # num_validation_examples × seq_len
  np.testing.assert_allclose(counts.sum(axis=(1, 2)), [2 * tokens] * 2)
  np.testing.assert_allclose(counts.sum(axis=1), [[tokens, tokens]] * 2)  # half per domain
  assert 0.0 <= results["validation/moe/layer_0/specialisation"] <= 1.0
  assert results["validation/moe/layer_1/dropped_fraction"] == 0.0  # dropless
  assert np.isfinite(results["validation/bits_per_byte"])


def test_a_run_logs_the_objective_with_its_auxiliary_terms(tmp_path) -> None:
  submission = "submissions/moe/adamw_global_lbl.py"
  code = cli.main(["run", "--workload=lm_moe", f"--submission={submission}",
                   f"--workdir={tmp_path}", "--max_steps=2", "--eval_every_steps=2",
                   "--no_progress", "--no_checkpoints", *SMALL_MOE_OVERRIDES])
  assert code == 0
  line = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
  lbl = np.mean([line[f"train_step/moe/layer_{l}/lbl"] for l in range(2)])
  z_loss = np.mean([line[f"train_step/moe/layer_{l}/z_loss"] for l in range(2)])
  assert line["train_step/objective"] == pytest.approx(
      line["train_step/loss"] + 0.01 * lbl + 1e-3 * z_loss, rel=1e-5)
  record = json.loads((tmp_path / "result.json").read_text())
  assert record["workload_options"] == {"balance": "global_batch_lbl", "z_loss_coef": 1e-3,
                                        "lbl_coef": 0.01, "lbl_micro_batches": 8}
