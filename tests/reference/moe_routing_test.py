"""The lm_moe routing rules of submissions/moe/ against Megatron-LM's and DeepSeek-V3's code.

A float64 router problem: 64 tokens (8 sequences of 8, one per data-parallel rank as the
submissions' `lbl_micro_batches`=8 cuts the batch) with 6 features, a linear router W [6, 8],
top-2 of 8 experts whose outputs are fixed vectors, a squared-error task loss through the
gates, trained by 40 steps of gradient descent on the task loss plus the routing rule's
auxiliary losses. The lab side is workloads/lm/routing.py (gating, LBL, z-loss, bias step)
composed by the workload's own `LmMoeWorkload._lbl` and `auxiliary_loss`, with the routing
options each submission's WORKLOAD_OPTIONS gives (from its HPARAMS); the reference side is
tests/reference/ports/moe_routing.py (Megatron-LM d98e8a6, DeepSeek-V3 9b4e978). Compared per
step: W, the expert bias, the per-expert load, the balancing loss, the z-loss and the task loss.

Each rule routes with the score function its submission's WORKLOAD_OPTIONS choose (lm_moe's
`score_function`), through routing.top_k_routing, which is MoeMlp's gating (the last test):
softmax for none and the two LBLs, sigmoid for aux-loss-free (DeepSeek-V3's `Gate`;
Megatron-LM accepts the expert bias with sigmoid or sqrtsoftplus scores only, and the port
refuses softmax with a bias as it does).

Measured 2026-12-05 (max relative difference over 40 steps, W, bias and the three losses
together; tolerance 1e-9): none 4.4e-16, micro-batch LBL 4.4e-16, global-batch LBL 4.4e-16,
aux-loss-free through the sigmoid path adamw_aux_free.py chooses 3.0e-16, and the two LBLs
over sigmoid scores 4.3e-16 (micro) and 3.1e-16 (global); the per-expert loads are equal at
every step, and the top-2 choice changes in each of the 39 step-to-step transitions (under
aux-loss-free the bias steers it: the loads differ from a bias-free run's at 39 of the 40
steps). Megatron-LM's global aux loss as it is (gradient 1/8 of the paper's at 8 ranks)
matches the lab at lbl_coef/8 to 2.5e-16 and is 15% away (relative, in W after 40 steps) from
the paper's form the lab runs.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import lm_moe as lm_moe_configs
from tests.reference import common
from tests.reference.ports import moe_routing as port
from workloads.lm import routing
from workloads.lm.moe import ROUTER_BIAS, STATS, MoeConfig, MoeMlp
from workloads.lm.moe_workload import LmMoeWorkload, RoutingConfig

COVERS = [
    "submissions/moe/adamw_none.py",
    "submissions/moe/adamw_micro_lbl.py",
    "submissions/moe/adamw_global_lbl.py",
    "submissions/moe/adamw_aux_free.py",
]

STEPS = 40
RTOL = 1e-9
NUM_SEQUENCES, SEQ_LEN, FEATURES, NUM_EXPERTS, TOP_K, OUT = 8, 8, 6, 8, 2, 3
LEARNING_RATE = 2.0  # large enough that the top-2 choice changes during the 40 steps

# The lab's balance -> Megatron-LM's moe_router_load_balancing_type (aux_loss_free: expert bias).
MEGATRON_BALANCE = {"none": "none", "micro_batch_lbl": "aux_loss",
                    "global_batch_lbl": "global_aux_loss", "aux_loss_free": "aux_loss_free"}


def _problem(seed: int = 0) -> tuple[port.RouterProblem, np.ndarray]:
  rng = np.random.default_rng(seed)
  tokens = NUM_SEQUENCES * SEQ_LEN
  problem = port.RouterProblem(
      features=rng.normal(size=(tokens, FEATURES)),
      expert_out=rng.normal(size=(NUM_EXPERTS, OUT)),
      targets=rng.normal(size=(tokens, OUT)), top_k=TOP_K, ranks=NUM_SEQUENCES)
  return problem, 0.3 * rng.normal(size=(FEATURES, NUM_EXPERTS))


def _workload_options(submission: str) -> dict[str, Any]:
  module = common.submission_module(submission)
  options = module.WORKLOAD_OPTIONS
  return dict(options(common.lab_hparams(module)) if callable(options) else options)


def _routing_config(submission: str, **overrides: Any) -> RoutingConfig:
  """The lm_moe config's routing section with the submission's WORKLOAD_OPTIONS applied, as the
  workload's `_apply_options` does."""
  defaults = RoutingConfig(**lm_moe_configs.get_config("tiny").routing.to_dict())
  return dataclasses.replace(defaults, **{**_workload_options(submission), **overrides})


def _train_lab(problem: port.RouterProblem, router: np.ndarray, config: RoutingConfig,
               steps: int) -> list[port.StepRecord]:
  """Gradient descent on the task loss + the workload's auxiliary loss, one layer; the bias
  steps from the step's load (LmMoeWorkload.model_fn) when balance is aux_loss_free."""
  workload = types.SimpleNamespace(routing=config)  # what _lbl and auxiliary_loss read
  features, expert_out = jnp.asarray(problem.features), jnp.asarray(problem.expert_out)
  targets = jnp.asarray(problem.targets)

  def loss_fn(router_DxE: jax.Array, bias_E: jax.Array) -> tuple[jax.Array, Any]:
    logits_TxE = features @ router_DxE
    experts_TxK, gates_TxK, probs_TxE = routing.top_k_routing(logits_TxE, bias_E, TOP_K,
                                                              config.score_function)
    out_TxO = jnp.einsum("tk,tko->to", gates_TxK, expert_out[experts_TxK])
    task_loss = 0.5 * jnp.mean(jnp.sum((out_TxO - targets) ** 2, axis=-1))
    selected_TxE = jax.nn.one_hot(experts_TxK, NUM_EXPERTS, dtype=logits_TxE.dtype).sum(axis=1)
    stats = {"lbl": LmMoeWorkload._lbl(workload, probs_TxE, selected_TxE,  # noqa: SLF001
                                       NUM_SEQUENCES)[None],
             "z_loss": routing.router_z_loss(logits_TxE)[None]}
    auxiliary = LmMoeWorkload.auxiliary_loss(workload, {"stats": stats})
    objective = task_loss if auxiliary is None else task_loss + auxiliary
    return objective, (task_loss, stats, jax.lax.stop_gradient(selected_TxE.sum(axis=0)))

  @jax.jit
  def step(router_DxE: jax.Array, bias_E: jax.Array) -> tuple[jax.Array, jax.Array, Any]:
    grad, (task_loss, stats, load_E) = jax.grad(loss_fn, has_aux=True)(router_DxE, bias_E)
    if config.balance == "aux_loss_free":
      bias_E = routing.aux_free_bias_update(bias_E, load_E, config.bias_update_rate)
    return router_DxE - LEARNING_RATE * grad, bias_E, (task_loss, stats, load_E)

  router_DxE, bias_E = jnp.asarray(router), jnp.zeros((NUM_EXPERTS,), jnp.float64)
  records = []
  for _ in range(steps):
    router_DxE, bias_E, (task_loss, stats, load_E) = step(router_DxE, bias_E)
    records.append(port.StepRecord(
        router=np.asarray(router_DxE), bias=np.asarray(bias_E), load=np.asarray(load_E),
        lbl=float(stats["lbl"][0]) if config.balance in ("micro_batch_lbl", "global_batch_lbl")
        else 0.0,
        z_loss=float(stats["z_loss"][0]) if config.z_loss_coef else 0.0,
        task_loss=float(task_loss)))
  return records


def _rule(config: RoutingConfig, global_lbl_dp_scale: float) -> port.RoutingRule:
  balance = MEGATRON_BALANCE[config.balance]
  return port.RoutingRule(
      balance=balance,
      aux_loss_coeff=config.lbl_coef if balance in ("aux_loss", "global_aux_loss") else 0.0,
      z_loss_coeff=config.z_loss_coef, bias_update_rate=config.bias_update_rate,
      global_lbl_dp_scale=global_lbl_dp_scale, score_function=config.score_function)


def _compare(lab: list[port.StepRecord], reference: list[port.StepRecord]) -> float:
  for got, want in zip(lab, reference):
    np.testing.assert_array_equal(got.load, want.load)
  as_trees = lambda records: [  # noqa: E731
      {"router": r.router, "bias": r.bias,
       "losses": np.array([r.lbl, r.z_loss, r.task_loss])} for r in records]
  return common.assert_trajectories_match(as_trees(lab), as_trees(reference), RTOL,
                                          what="router, bias and losses")


@pytest.mark.parametrize("submission, overrides", [
    *((submission, {}) for submission in COVERS),
    # The LBLs over sigmoid scores (normalised over the experts, as Megatron-LM's aux loss
    # reads them), which no bundled submission chooses.
    ("submissions/moe/adamw_micro_lbl.py", {"score_function": "sigmoid"}),
    ("submissions/moe/adamw_global_lbl.py", {"score_function": "sigmoid"}),
])
def test_routing_rule_matches_the_reference_code(submission: str,
                                                 overrides: dict[str, Any]) -> None:
  problem, router = _problem()
  with common.float64():
    config = _routing_config(submission, **overrides)
    lab = _train_lab(problem, router, config, STEPS)
  # The global-batch LBL as the paper defines it: Megatron's per-rank terms summed over the
  # ranks (the value Megatron logs; its PR #3769 fix), not their DP average.
  reference = port.train(problem, _rule(config, global_lbl_dp_scale=NUM_SEQUENCES), router,
                         LEARNING_RATE, STEPS)
  _compare(lab, reference)
  # The problem exercises the rule: the top-2 choice changes during training.
  assert any(not np.array_equal(a.load, b.load) for a, b in zip(reference, reference[1:]))


def test_the_aux_free_submission_routes_as_the_authors_code_through_the_layer() -> None:
  """adamw_aux_free's own WORKLOAD_OPTIONS choose sigmoid scores, the workload hands them to
  every MoeMlp (whose gating is routing.top_k_routing, test below), and the port refuses the
  expert bias with softmax scores, as Megatron-LM's transformer_config.py does."""
  submission = "submissions/moe/adamw_aux_free.py"
  assert _routing_config(submission).score_function == "sigmoid"
  workload = LmMoeWorkload(lm_moe_configs.get_config("tiny"), "tiny")
  workload.configure_options(_workload_options(submission))
  assert workload.moe_config.score_function == "sigmoid"
  assert workload.config.routing.score_function == "sigmoid"
  with pytest.raises(ValueError, match="only supports 'sigmoid'"):
    _rule(_routing_config(submission, score_function="softmax"), NUM_SEQUENCES)
  # The bias steers the sigmoid choice on the test's problem (not only the router's drift).
  problem, router = _problem()
  with common.float64():
    biased = _train_lab(problem, router, _routing_config(submission), STEPS)
    unbiased = _train_lab(problem, router, _routing_config(submission, bias_update_rate=0.0),
                          STEPS)
  assert sum(not np.array_equal(a.load, b.load) for a, b in zip(biased, unbiased)) >= STEPS // 2


def test_megatron_global_aux_loss_is_the_paper_loss_divided_by_the_ranks() -> None:
  """Megatron-LM as it is (issue #3672): its DP-averaged global aux loss gradient is the lab's
  global-batch LBL at lbl_coef / ranks."""
  problem, router = _problem()
  with common.float64():
    config = _routing_config("submissions/moe/adamw_global_lbl.py")
    lab = _train_lab(problem, router, dataclasses.replace(config,
                                                          lbl_coef=config.lbl_coef / NUM_SEQUENCES),
                     STEPS)
  reference = port.train(problem, _rule(config, global_lbl_dp_scale=1.0), router, LEARNING_RATE,
                         STEPS)
  for got, want in zip(lab, reference):
    np.testing.assert_allclose(got.router, want.router, rtol=RTOL)
    np.testing.assert_array_equal(got.load, want.load)


def test_megatron_sequence_aux_loss_is_the_micro_batch_lbl_with_one_sequence_each() -> None:
  """DeepSeek-V2/V3's sequence-wise balance loss as Megatron-LM computes it (`seq_aux_loss`)
  is the lab's micro-batch LBL with `lbl_micro_batches` = the number of sequences."""
  rng = np.random.default_rng(2)
  logits_BxLxE = rng.normal(size=(NUM_SEQUENCES, SEQ_LEN, NUM_EXPERTS))
  megatron_order = np.transpose(logits_BxLxE, (1, 0, 2)).reshape(-1, NUM_EXPERTS)  # [s, b]
  reference = port.seq_aux_loss(megatron_order, TOP_K, SEQ_LEN, NUM_SEQUENCES, 1.0)
  with common.float64():
    logits_TxE = jnp.asarray(logits_BxLxE.reshape(-1, NUM_EXPERTS))
    experts_TxK, _, probs_TxE = routing.top_k_routing(logits_TxE, jnp.zeros(NUM_EXPERTS), TOP_K)
    selected_TxE = jax.nn.one_hot(experts_TxK, NUM_EXPERTS, dtype=jnp.float64).sum(axis=1)
    lab = float(routing.micro_batch_lbl(probs_TxE, selected_TxE, NUM_SEQUENCES))
  assert lab == pytest.approx(reference, rel=1e-14)


@pytest.mark.parametrize("balance, score_function", [
    ("aux_loss", "softmax"), ("global_aux_loss", "softmax"), ("aux_loss", "sigmoid"),
    ("global_aux_loss", "sigmoid"), ("aux_loss_free", "sigmoid")])
def test_port_gradient_matches_central_differences(balance: str, score_function: str) -> None:
  """The port's hand-written backward pass against central differences of its forward pass."""
  problem, router = _problem(seed=1)
  rule = port.RoutingRule(balance=balance, aux_loss_coeff=0.3, z_loss_coeff=0.1,
                          bias_update_rate=1e-3, global_lbl_dp_scale=NUM_SEQUENCES,
                          score_function=score_function)
  bias = np.linspace(-0.02, 0.02, NUM_EXPERTS)

  def objective(w: np.ndarray) -> float:
    totals, _, _ = port.rank_losses_and_grads(problem, rule, w, bias)
    lbl = totals["lbl"] * (rule.global_lbl_dp_scale / NUM_SEQUENCES
                           if balance == "global_aux_loss" else 1.0)
    return totals["task_loss"] + lbl + totals["z_loss"]

  _, grad, _ = port.rank_losses_and_grads(problem, rule, router, bias)
  step = 1e-6
  numeric = np.zeros_like(router)
  for index in np.ndindex(router.shape):
    shift = np.zeros_like(router)
    shift[index] = step
    numeric[index] = (objective(router + shift) - objective(router - shift)) / (2 * step)
  np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("score_function", routing.SCORE_FUNCTIONS)
def test_top_k_routing_is_what_the_moe_layer_computes(score_function: str) -> None:
  """routing.top_k_routing = workloads/lm/moe.py's MoeMlp gating (float32, with a non-zero
  bias): the same probabilities and the same top-k choice."""
  layer = MoeMlp(MoeConfig(num_experts=NUM_EXPERTS, top_k=TOP_K, num_shared_experts=0,
                           expert_mlp_dim=4, grouped_matmul="blocked", matmul_block=8,
                           score_function=score_function),
                 activation=nn.gelu, kernel_init=nn.initializers.normal(0.5))
  x_BxLxD = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 16))
  variables = layer.init(jax.random.PRNGKey(1), x_BxLxD)
  bias_E = jnp.linspace(-0.1, 0.1, NUM_EXPERTS, dtype=jnp.float32)
  _, sown = layer.apply({"params": variables["params"], ROUTER_BIAS: {"bias": bias_E}}, x_BxLxD,
                        mutable=[STATS])
  stats = {name: value[0].reshape(-1, value[0].shape[-1]) for name, value in sown[STATS].items()
           if name != "dropped"}
  experts_TxK, _, probs_TxE = routing.top_k_routing(stats["logits"], bias_E, TOP_K,
                                                    score_function)
  np.testing.assert_allclose(np.asarray(probs_TxE), np.asarray(stats["probs"]), rtol=1e-6)
  np.testing.assert_array_equal(
      np.asarray(jax.nn.one_hot(experts_TxK, NUM_EXPERTS).sum(axis=1)),
      np.asarray(stats["selected"]))
