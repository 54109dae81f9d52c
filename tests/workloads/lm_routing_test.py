"""workloads/lm/routing.py against values worked out by hand (the formulas in its docstring)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from workloads.lm import routing


def _np(x) -> np.ndarray:
  return np.asarray(x)


def test_expert_fractions_count_every_choice_once() -> None:
  selected = jnp.array([[1, 1, 0, 0], [1, 0, 1, 0]], jnp.float32)  # top-2 of 4, two tokens
  np.testing.assert_allclose(_np(routing.expert_fractions(selected)), [0.5, 0.25, 0.25, 0.0])


def test_lbl_is_one_when_uniform_and_num_experts_when_collapsed() -> None:
  uniform = jnp.full((8,), 1 / 8)
  assert float(routing.load_balancing_loss(uniform, uniform)) == pytest.approx(1.0)
  collapsed = jnp.eye(8)[0]
  assert float(routing.load_balancing_loss(collapsed, collapsed)) == pytest.approx(8.0)
  # N_E Σ f p = 2 (0.75·0.6 + 0.25·0.4) = 1.1
  lbl = routing.load_balancing_loss(jnp.array([0.75, 0.25]), jnp.array([0.6, 0.4]))
  assert float(lbl) == pytest.approx(1.1)


def test_lbl_gradient_flows_through_the_probabilities_only() -> None:
  f, p = jnp.array([0.75, 0.25]), jnp.array([0.6, 0.4])
  grad_f, grad_p = jax.grad(routing.load_balancing_loss, argnums=(0, 1))(f, p)
  np.testing.assert_allclose(_np(grad_f), [0.0, 0.0])
  np.testing.assert_allclose(_np(grad_p), [1.5, 0.5])  # N_E f_i


# Two micro-batches of two tokens, two experts, top-1: the first micro-batch sends both its
# tokens to expert 0, the second both to expert 1 (two domains, each with its own expert).
PROBS = jnp.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
SELECTED = jnp.array([[1, 0], [1, 0], [0, 1], [0, 1]], jnp.float32)


def test_micro_batch_lbl_penalises_per_micro_batch_specialisation() -> None:
  # g0: f = (1, 0), p = (0.85, 0.15) → 1.7; g1: f = (0, 1), p = (0.35, 0.65) → 1.3; mean 1.5
  assert float(routing.micro_batch_lbl(PROBS, SELECTED, 2)) == pytest.approx(1.5)
  # one micro-batch is the whole batch: f = (0.5, 0.5), p = (0.6, 0.4) → 1.0
  assert float(routing.micro_batch_lbl(PROBS, SELECTED, 1)) == pytest.approx(1.0)


def test_global_batch_lbl_is_the_whole_batch_lbl() -> None:
  # f synchronised: (0.5, 0.5); per micro-batch 2 (0.5·0.85 + 0.5·0.15) = 1 and 1 → 1.0
  for groups in (1, 2, 4):
    assert float(routing.global_batch_lbl(PROBS, SELECTED, groups)) == pytest.approx(1.0)


def test_micro_batches_must_divide_the_tokens() -> None:
  with pytest.raises(ValueError, match="lbl_micro_batches=3"):
    routing.micro_batch_lbl(PROBS, SELECTED, 3)


def test_router_z_loss() -> None:
  # logsumexp(0, 0) = log 2; logsumexp(log 3, 0) = log 4
  logits = jnp.array([[0.0, 0.0], [math.log(3.0), 0.0]])
  expected = (math.log(2.0) ** 2 + math.log(4.0) ** 2) / 2
  assert float(routing.router_z_loss(logits)) == pytest.approx(expected, rel=1e-6)


def test_aux_free_bias_moves_each_expert_towards_the_mean_load() -> None:
  load = jnp.array([6.0, 2.0, 0.0, 0.0])  # mean 2: expert 0 over, expert 1 at, 2 and 3 under
  bias = routing.aux_free_bias_update(jnp.array([0.5, 0.0, 0.0, -0.1]), load, 0.01)
  np.testing.assert_allclose(_np(bias), [0.49, 0.0, 0.01, -0.09], rtol=1e-6)


def test_max_violation() -> None:
  assert float(routing.max_violation(jnp.array([6.0, 2.0, 0.0, 0.0]))) == pytest.approx(2.0)
  assert float(routing.max_violation(jnp.array([3.0, 3.0, 3.0]))) == pytest.approx(0.0)


def test_router_entropy_is_the_mean_per_token_entropy() -> None:
  probs = jnp.array([[0.5, 0.5], [1.0, 0.0]])  # log 2 and 0 nats
  assert float(routing.router_entropy(probs)) == pytest.approx(math.log(2.0) / 2)


def test_dropped_fraction_counts_routing_choices() -> None:
  dropped = jnp.array([1, 0, 2, 0])  # 3 of 4 tokens × top-2 = 8 choices
  assert float(routing.dropped_fraction(dropped, 2)) == pytest.approx(3 / 8)


def test_softmax_top_k_routing_chooses_with_the_bias_and_gates_without_it() -> None:
  logits = jnp.log(jnp.array([[4.0, 3.0, 2.0, 1.0]]))  # probabilities 0.4, 0.3, 0.2, 0.1
  experts, gates, probs = routing.top_k_routing(logits, jnp.zeros(4), 2)
  np.testing.assert_array_equal(_np(experts), [[0, 1]])
  np.testing.assert_allclose(_np(gates), [[4 / 7, 3 / 7]], rtol=1e-6)
  np.testing.assert_allclose(_np(probs), [[0.4, 0.3, 0.2, 0.1]], rtol=1e-6)
  # 0.2 + 0.15 beats 0.3: expert 2 is chosen, its gate is its unbiased share 0.2 / 0.6
  experts, gates, _ = routing.top_k_routing(logits, jnp.array([0.0, 0.0, 0.15, 0.0]), 2)
  np.testing.assert_array_equal(_np(experts), [[0, 2]])
  np.testing.assert_allclose(_np(gates), [[2 / 3, 1 / 3]], rtol=1e-6)


def test_sigmoid_top_k_routing_is_deepseek_v3s_gate() -> None:
  logits = jnp.array([[0.0, math.log(3.0), -math.log(3.0)]])  # sigmoid: 0.5, 0.75, 0.25
  experts, gates, probs = routing.top_k_routing(logits, jnp.zeros(3), 2, "sigmoid")
  np.testing.assert_array_equal(_np(experts), [[1, 0]])
  np.testing.assert_allclose(_np(gates), [[0.6, 0.4]], rtol=1e-6)
  np.testing.assert_allclose(_np(probs), [[1 / 3, 1 / 2, 1 / 6]], rtol=1e-6)  # over all experts
  experts, gates, _ = routing.top_k_routing(logits, jnp.array([0.0, 0.0, 0.3]), 2, "sigmoid")
  np.testing.assert_array_equal(_np(experts), [[1, 2]])
  np.testing.assert_allclose(_np(gates), [[0.75, 0.25]], rtol=1e-6)
  with pytest.raises(ValueError, match="score_function 'tanh'"):
    routing.top_k_routing(logits, jnp.zeros(3), 2, "tanh")


def test_sigmoid_scores_feed_the_lbl_and_entropy_as_a_distribution() -> None:
  """Under "sigmoid" the LBL's p_i and the router entropy read the scores normalised over the
  experts: equal logits give the uniform router (LBL 1 with a balanced choice, entropy log
  N_E) whatever the sigmoid's value; the z-loss reads the logits, not the scores."""
  logits = jnp.full((4, 4), 2.0)  # sigmoid 0.88 for every expert
  _, _, probs = routing.top_k_routing(logits, jnp.zeros(4), 2, "sigmoid")
  np.testing.assert_allclose(_np(probs), np.full((4, 4), 0.25), rtol=1e-6)
  balanced = jnp.array([[1, 1, 0, 0], [0, 0, 1, 1]] * 2, jnp.float32)
  assert float(routing.global_batch_lbl(probs, balanced)) == pytest.approx(1.0)
  assert float(routing.router_entropy(probs)) == pytest.approx(math.log(4.0))
  assert float(routing.router_z_loss(logits)) == pytest.approx((2.0 + math.log(4.0)) ** 2)


def test_the_bias_never_gets_a_gradient() -> None:
  logits = jnp.array([[0.3, -0.2, 0.5, 0.1]])
  for score_function in routing.SCORE_FUNCTIONS:
    grad = jax.grad(lambda b, s=score_function: jnp.sum(
        routing.top_k_routing(logits, b, 2, s)[1] * jnp.array([[1.0, 2.0]])))(jnp.zeros(4))
    np.testing.assert_array_equal(_np(grad), np.zeros(4))


def test_float64_inputs_stay_float64() -> None:
  with jax.enable_x64(True):
    logits = jnp.array([[0.1, 0.2], [0.3, -0.4]], jnp.float64)
    assert routing.router_z_loss(logits).dtype == jnp.float64
    selected = jnp.array([[1.0, 0.0], [1.0, 0.0]], jnp.float64)
    assert routing.expert_fractions(selected).dtype == jnp.float64
    bias = routing.aux_free_bias_update(jnp.zeros(2, jnp.float64), jnp.array([3.0, 1.0]), 1e-3)
    assert bias.dtype == jnp.float64 and float(bias[1]) == 1e-3  # not float32's 0.0010000000475
