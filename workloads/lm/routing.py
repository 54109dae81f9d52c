"""Router statistics and load balancing for the MoE LM, as small pure functions.

Shape suffixes: T tokens, E routed experts, K experts chosen per token, G groups
(micro-batches) the tokens are cut into, in batch order.

Every function is checked against values worked out by hand in
tests/workloads/lm_routing_test.py. The formulas, with f_i the fraction of the T·K routing
choices that went to expert i (Σ_i f_i = 1) and p_i the mean router probability of expert i:

- Load-balancing loss (Switch Transformer, Fedus et al. 2021, eq. 4; GShard, Lepikhin et al.
  2020; for top-k as in DeepSeekMoE eq. 12 up to its normalisation of f_i by K/N_E):
  LBL = N_E Σ_i f_i p_i, which is 1 for a perfectly uniform router and N_E when every token
  goes to one expert with probability 1.
- Micro-batch against global-batch LBL (Qiu et al. 2025, "Demons in the Detail", arXiv
  2501.11873, §3): computed per micro-batch g, LBL_micro = mean_g N_E Σ_i f_{g,i} p_{g,i}; with
  f_i synchronised over all micro-batches first, LBL_global = mean_g N_E Σ_i f_i p_{g,i}
  = N_E Σ_i f_i p_i — the LBL of the whole batch when the micro-batches are equal in size.
  On a mesh the micro-batches are the data-parallel shards (the batch is split along its
  leading dimension), so the sum behind f_i is one all-reduce over the data axis.
- Router z-loss (ST-MoE, Zoph et al. 2022, eq. 5): mean_t (log Σ_j exp z_{t,j})².
- Auxiliary-loss-free balancing (DeepSeek-V3, arXiv 2412.19437, §2.1.2): a per-expert bias
  b_i is added to the routing scores for the top-k choice only (the gate weights stay the
  unbiased scores); after each step b_i ← b_i + γ·sign(mean_j load_j − load_i): an overloaded
  expert's bias falls by γ, an underloaded one's rises by γ. It is never trained by gradients.
- MaxVio (DeepSeek-V3 / "Auxiliary-Loss-Free Load Balancing", Wang et al. 2024, eq. 4):
  max_i load_i / mean_i load_i − 1 (0 when balanced).
- Top-k gating (`top_k_routing`, the gating of workloads/lm/moe.py's MoeMlp, chosen by lm_moe's
  `score_function` option): "softmax" is softmax probabilities, top-k of probabilities + bias,
  the chosen probabilities renormalised (Megatron-LM's default softmax router, plus the bias;
  the lab's default); "sigmoid" is DeepSeek-V3's `Gate` (sigmoid scores, top-k of scores +
  bias, the chosen unbiased scores normalised to sum to 1). Megatron-LM refuses the expert bias
  with softmax scores (its transformer_config.py allows sigmoid and sqrtsoftplus only). What
  the other rules read under "sigmoid": the LBL's p_i and the router entropy read the sigmoid
  scores normalised over all experts (Megatron-LM's `compute_routing_scores_for_aux_loss`), so
  both keep their meaning (a distribution per token); f_i, the load, MaxVio and the bias step
  read the choice; the z-loss reads the logits whatever the score function, as Megatron-LM's
  `z_loss_func` does.

tests/reference/moe_routing_test.py runs these functions for 40 gradient steps on a float64
router beside numpy ports of Megatron-LM's `moe_utils.py`/`router.py` and DeepSeek-V3's
`inference/model.py` (commits named there). Router maths runs in float32, or in the input's
dtype where that is wider (float64 in the reference tests).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _at_least_float32(x: jax.Array) -> jax.Array:
  return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def _groups(x_TxE: jax.Array, num_groups: int) -> jax.Array:
  tokens = x_TxE.shape[0]
  if tokens % num_groups:
    raise ValueError(f"{tokens} tokens do not split into lbl_micro_batches={num_groups} "
                     "equal micro-batches; choose a divisor of the global batch size.")
  return x_TxE.reshape(num_groups, tokens // num_groups, *x_TxE.shape[1:])


def expert_fractions(selected_TxE: jax.Array) -> jax.Array:
  """f_E: each expert's share of the routing choices (selected_TxE is k-hot per token)."""
  counts_E = _at_least_float32(selected_TxE).sum(axis=0)
  return counts_E / jnp.maximum(counts_E.sum(), 1.0)


def load_balancing_loss(fractions_E: jax.Array, mean_probs_E: jax.Array) -> jax.Array:
  """N_E Σ_i f_i p_i; f is treated as a constant (it is a count)."""
  num_experts = fractions_E.shape[-1]
  return num_experts * jnp.sum(jax.lax.stop_gradient(fractions_E) * mean_probs_E, axis=-1)


def micro_batch_lbl(probs_TxE: jax.Array, selected_TxE: jax.Array,
                    num_groups: int) -> jax.Array:
  """The mean over `num_groups` consecutive micro-batches of each one's own LBL."""
  probs_GxTxE = _groups(probs_TxE, num_groups)
  selected_GxTxE = _groups(selected_TxE, num_groups)
  fractions_GxE = jax.vmap(expert_fractions)(selected_GxTxE)
  return jnp.mean(load_balancing_loss(fractions_GxE, probs_GxTxE.mean(axis=1)))


def global_batch_lbl(probs_TxE: jax.Array, selected_TxE: jax.Array,
                     num_groups: int = 1) -> jax.Array:
  """LBL with f_i taken over all tokens (every micro-batch) and p_i per micro-batch, averaged.

  Equal-sized micro-batches make this the LBL of the whole batch; `num_groups` is kept so the
  computation mirrors the distributed one (local p_i, all-reduced f_i).
  """
  fractions_E = expert_fractions(selected_TxE)
  mean_probs_GxE = _groups(probs_TxE, num_groups).mean(axis=1)
  return jnp.mean(load_balancing_loss(fractions_E[None, :], mean_probs_GxE))


def router_z_loss(logits_TxE: jax.Array) -> jax.Array:
  """mean_t (logsumexp_j z_{t,j})², in float32 or wider."""
  return jnp.mean(jax.nn.logsumexp(_at_least_float32(logits_TxE), axis=-1) ** 2)


def aux_free_bias_update(bias_E: jax.Array, load_E: jax.Array, rate: float) -> jax.Array:
  """b + γ·sign(mean load − load): DeepSeek-V3's bias step, outside any gradient."""
  load_E = jax.lax.stop_gradient(_at_least_float32(load_E))
  return bias_E + jnp.asarray(rate, bias_E.dtype) * jnp.sign(load_E.mean() - load_E).astype(
      bias_E.dtype)


def max_violation(load_E: jax.Array) -> jax.Array:
  """max load / mean load − 1."""
  load_E = _at_least_float32(load_E)
  return load_E.max() / jnp.maximum(load_E.mean(), 1e-9) - 1.0


def router_entropy(probs_TxE: jax.Array) -> jax.Array:
  """Mean over tokens of the entropy (nats) of the router's distribution; log N_E is uniform."""
  probs_TxE = _at_least_float32(probs_TxE)
  return jnp.mean(-jnp.sum(probs_TxE * jnp.log(jnp.maximum(probs_TxE, 1e-30)), axis=-1))


def dropped_fraction(dropped_T: jax.Array, top_k: int) -> jax.Array:
  """Share of the T·K routing choices dropped for lack of expert capacity."""
  return dropped_T.astype(jnp.float32).sum() / (dropped_T.shape[0] * top_k)


SCORE_FUNCTIONS = ("softmax", "sigmoid")


def top_k_routing(logits_TxE: jax.Array, bias_E: jax.Array, top_k: int,
                  score_function: str = "softmax") -> tuple[jax.Array, jax.Array, jax.Array]:
  """(experts_TxK, gates_TxK, probs_TxE): the top-k choice of scores + bias (the bias never
  reaches the gates or the gradients), the gate weights of the chosen experts (summing to 1),
  and the per-expert probabilities the load-balancing loss and the router entropy average
  (softmax; for "sigmoid" the scores normalised over all experts, as Megatron-LM's aux loss
  reads them). With top_k=1 a sigmoid gate is 1, as in DeepSeek-V3's Gate (Megatron-LM keeps
  the unnormalised score there)."""
  logits_TxE = _at_least_float32(logits_TxE)
  if score_function == "softmax":
    scores_TxE = jax.nn.softmax(logits_TxE, axis=-1)
    probs_TxE = scores_TxE
  elif score_function == "sigmoid":
    scores_TxE = jax.nn.sigmoid(logits_TxE)
    probs_TxE = scores_TxE / scores_TxE.sum(axis=-1, keepdims=True)
  else:
    raise ValueError(f"score_function {score_function!r} unknown; choose from {SCORE_FUNCTIONS}.")
  _, experts_TxK = jax.lax.top_k(jax.lax.stop_gradient(scores_TxE + bias_E[None, :]), top_k)
  gates_TxK = jnp.take_along_axis(scores_TxE, experts_TxK, axis=-1)
  return experts_TxK, gates_TxK / gates_TxK.sum(axis=-1, keepdims=True), probs_TxE
