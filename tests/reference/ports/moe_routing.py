"""numpy port of the MoE routing rules, for tests/reference/moe_routing_test.py.

Forward computations ported line by line, in float64, from

- NVIDIA/Megatron-LM, commit d98e8a64ddf34856e74b24714e3bedb2f5a39553:
  `megatron/core/transformer/moe/moe_utils.py` — `switch_load_balancing_loss_func`,
  `z_loss_func`, `topk_routing_with_score_function` (the "softmax" branch without
  pre-softmax, Megatron's default; the "sigmoid" branch with `expert_bias`),
  `compute_routing_scores_for_aux_loss`, `get_tokens_per_expert_and_token_count`,
  `get_updated_expert_bias`; `megatron/core/transformer/moe/router.py` — `TopKRouter.
  _apply_aux_loss` (micro-batch LBL: f_i over the rank's own tokens), `_apply_global_aux_loss`
  (f_i all-reduced over the data-parallel ranks, `total_num_tokens` = local tokens × ranks;
  one gradient-accumulation step, so its running mean over `ga_steps` is this step's counts),
  `_apply_seq_aux_loss` (DeepSeek's sequence-wise loss), `apply_z_loss`, and `_apply_expert_bias` with `finalize_model_grads._update_router_expert_bias`
  (tokens per expert summed over the ranks, one bias step per global batch).
- deepseek-ai/DeepSeek-V3, commit 9b4e9788e4a3a731f7567338ed15d3ec549ce03b:
  `inference/model.py`, `Gate.forward` with score_func "sigmoid", one expert group and
  `route_scale` 1.0 (ModelArgs' default; the 671B config's 2.5 scales every gate alike).

Data parallelism is simulated: `G` ranks each hold T/G tokens, each computes its own losses,
and the gradients are averaged over the ranks, as Megatron's DDP does (gradient scaling
1/dp_size, `calculate_per_token_loss` off). Megatron's per-rank global aux loss divides the
rank's probability sums by the *global* token count, so its DP-averaged gradient is 1/G of the
gradient of the global-batch LBL the paper defines (NVIDIA/Megatron-LM issue #3672, open; the
fix proposed in PR #3769 multiplies by dp_size). `global_lbl_dp_scale` = G applies that fix
(the sum over ranks of the per-rank losses: the value Megatron logs); 1 is Megatron as it is.

The references get their gradients from PyTorch's autograd; the backward passes here are
written out by hand (chain rule through the softmax / sigmoid and the top-k gates) and the
test checks them against central differences.
"""

from __future__ import annotations

import dataclasses

import numpy as np


def _softmax(x: np.ndarray) -> np.ndarray:
  e = np.exp(x - x.max(axis=-1, keepdims=True))
  return e / e.sum(axis=-1, keepdims=True)


def _logsumexp(x: np.ndarray) -> np.ndarray:
  m = x.max(axis=-1)
  return m + np.log(np.exp(x - m[:, None]).sum(axis=-1))


def _sigmoid(x: np.ndarray) -> np.ndarray:
  return 1.0 / (1.0 + np.exp(-x))


def _topk_indices(scores: np.ndarray, k: int) -> np.ndarray:
  """torch.topk(scores, k, dim=1)[1]: largest first (ties to the lower index, as jax.lax.top_k)."""
  return np.argsort(-scores, axis=1, kind="stable")[:, :k]


# -- Megatron-LM moe_utils.py -----------------------------------------------------------------
def switch_load_balancing_loss_func(probs, tokens_per_expert, total_num_tokens, topk,
                                    num_experts, moe_aux_loss_coeff):
  aggregated_probs_per_expert = probs.sum(axis=0)
  aux_loss = np.sum(aggregated_probs_per_expert * tokens_per_expert) * (
      num_experts * moe_aux_loss_coeff / (topk * total_num_tokens * total_num_tokens))
  return aux_loss


def switch_load_balancing_loss_grad(probs, tokens_per_expert, total_num_tokens, topk,
                                    num_experts, moe_aux_loss_coeff):
  """d aux_loss / d probs (tokens_per_expert is a count: no gradient)."""
  coeff = num_experts * moe_aux_loss_coeff / (topk * total_num_tokens * total_num_tokens)
  return np.broadcast_to(tokens_per_expert * coeff, probs.shape)


def z_loss_func(logits, z_loss_coeff):
  logsum = _logsumexp(logits)
  z_loss_values = np.square(logsum)
  return np.mean(z_loss_values) * z_loss_coeff


def z_loss_grad(logits, z_loss_coeff):
  logsum = _logsumexp(logits)
  return (z_loss_coeff * 2.0 * logsum / logits.shape[0])[:, None] * _softmax(logits)


def topk_routing_with_score_function(logits, topk, score_function="softmax", expert_bias=None):
  """(probs [T, K], top_indices [T, K]): the `dense_output` form."""
  if score_function == "softmax":  # use_pre_softmax=False: top-k of the logits, then softmax
    top_indices = _topk_indices(logits, topk)
    scores = np.take_along_axis(logits, top_indices, axis=1)
    probs = _softmax(scores)
  elif score_function == "sigmoid":
    scores = _sigmoid(logits)
    if expert_bias is not None:
      scores_for_routing = scores + expert_bias
      top_indices = _topk_indices(scores_for_routing, topk)
      scores = np.take_along_axis(scores, top_indices, axis=1)
    else:
      top_indices = _topk_indices(scores, topk)
      scores = np.take_along_axis(scores, top_indices, axis=1)
    probs = scores / (scores.sum(axis=-1, keepdims=True) + 1e-20) if topk > 1 else scores
  else:
    raise ValueError(f"Invalid score_function: {score_function}")
  return probs, top_indices


def compute_routing_scores_for_aux_loss(logits, topk, score_function):
  """(routing_map [T, E] bool, scores [T, E])."""
  if score_function == "softmax":
    scores = _softmax(logits)
  elif score_function == "sigmoid":
    scores = _sigmoid(logits)
    scores = scores / (scores.sum(axis=-1, keepdims=True) + 1e-20)
  else:
    raise ValueError(f"Invalid score_function: {score_function}")
  top_indices = _topk_indices(scores, topk)
  routing_map = np.zeros(logits.shape, bool)
  np.put_along_axis(routing_map, top_indices, True, axis=1)
  return routing_map, scores


def seq_aux_loss(logits, topk, seq_length, bsz, seq_aux_loss_coeff, score_function="softmax"):
  """router.py `_apply_seq_aux_loss` on one rank (tp_cp group of one): `logits` [S·B, E] in
  Megatron's [seq_length, bsz] token order; the batch dimension is folded into the experts'."""
  num_experts = logits.shape[1]
  routing_map, scores_for_aux_loss = compute_routing_scores_for_aux_loss(logits, topk,
                                                                         score_function)
  scores_for_aux_loss = scores_for_aux_loss.reshape(seq_length, -1)
  routing_map = routing_map.reshape(seq_length, -1)
  global_tokens_per_expert = routing_map.sum(axis=0)
  total_num_tokens = routing_map.shape[0]
  return switch_load_balancing_loss_func(scores_for_aux_loss, global_tokens_per_expert,
                                         total_num_tokens, topk, num_experts,
                                         seq_aux_loss_coeff) / bsz


def get_updated_expert_bias(tokens_per_expert, expert_bias, expert_bias_update_rate):
  """`tokens_per_expert` already summed over the ranks (the all-reduce)."""
  average_tokens = tokens_per_expert.sum(axis=-1, keepdims=True) / tokens_per_expert.shape[-1]
  offset = average_tokens - tokens_per_expert
  updated_expert_bias = expert_bias + np.sign(offset) * expert_bias_update_rate
  return updated_expert_bias


# -- DeepSeek-V3 inference/model.py ------------------------------------------------------------
def deepseek_v3_gate(scores_logits, bias, topk, score_func="sigmoid", route_scale=1.0):
  """`Gate.forward` after `linear(x, self.weight)`, n_groups = 1: (weights, indices)."""
  if score_func == "softmax":
    scores = _softmax(scores_logits)
  else:
    scores = _sigmoid(scores_logits)
  original_scores = scores
  if bias is not None:
    scores = scores + bias
  indices = _topk_indices(scores, topk)
  weights = np.take_along_axis(original_scores, indices, axis=1)
  if score_func == "sigmoid":
    weights = weights / weights.sum(axis=-1, keepdims=True)
  weights = weights * route_scale
  return weights, indices


# -- the toy router problem, trained as Megatron trains it ----------------------------------------
@dataclasses.dataclass(frozen=True)
class RouterProblem:
  """Token features x [T, d], a linear router W [d, E], fixed expert outputs [E, o] and targets
  [T, o]; the task loss is the mean over tokens of ½‖Σ_k gate_k · expert_out[e_k] − target‖²."""

  features: np.ndarray
  expert_out: np.ndarray
  targets: np.ndarray
  top_k: int
  ranks: int  # data-parallel ranks (the lab's lbl_micro_batches): T/ranks tokens each


@dataclasses.dataclass(frozen=True)
class RoutingRule:
  balance: str  # "none", "aux_loss" (micro-batch), "global_aux_loss", "aux_loss_free"
  aux_loss_coeff: float
  z_loss_coeff: float
  bias_update_rate: float
  global_lbl_dp_scale: float = 1.0  # see the module docstring
  score_function: str = "softmax"  # Megatron-LM's moe_router_score_function default

  def __post_init__(self) -> None:
    # transformer_config.py, TransformerConfig.__post_init__ (sqrtsoftplus is not ported).
    if self.balance == "aux_loss_free" and self.score_function != "sigmoid":
      raise ValueError("Expert bias for aux-loss-free routing only supports 'sigmoid' and "
                       "'sqrtsoftplus' score functions.")


@dataclasses.dataclass
class StepRecord:
  router: np.ndarray  # W after the step
  bias: np.ndarray  # expert bias after the step
  load: np.ndarray  # tokens per expert chosen in the step (summed over ranks)
  lbl: float  # the balancing loss as Megatron logs it, without its coefficient
  # (aux_loss: the mean over ranks; global_aux_loss: the sum over ranks)
  z_loss: float
  task_loss: float


def _gate_backward(gates, indices, d_gates, logits, score_function):
  """d loss / d logits [T, E] through the top-k gates (the choice itself has no gradient)."""
  d_logits = np.zeros_like(logits)
  if score_function == "softmax":  # gates = softmax over the chosen logits
    d_chosen = gates * (d_gates - np.sum(gates * d_gates, axis=1, keepdims=True))
  else:  # gates = s_chosen / Σ s_chosen, s = sigmoid(logits)
    s_chosen = np.take_along_axis(_sigmoid(logits), indices, axis=1)
    total = s_chosen.sum(axis=1, keepdims=True)
    d_s = (d_gates - np.sum(gates * d_gates, axis=1, keepdims=True)) / total
    d_chosen = d_s * s_chosen * (1.0 - s_chosen)
  np.put_along_axis(d_logits, indices, d_chosen, axis=1)
  return d_logits


def _softmax_backward(probs, d_probs):
  return probs * (d_probs - np.sum(probs * d_probs, axis=1, keepdims=True))


def _normalised_sigmoid_backward(logits, d_probs):
  s = _sigmoid(logits)
  total = s.sum(axis=1, keepdims=True)
  probs = s / total
  d_s = (d_probs - np.sum(probs * d_probs, axis=1, keepdims=True)) / total
  return d_s * s * (1.0 - s)


def rank_losses_and_grads(problem: RouterProblem, rule: RoutingRule, router: np.ndarray,
                          bias: np.ndarray) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
  """One training step's forward and backward on every rank: the losses as Megatron logs them
  (task and z-loss: the mean over ranks; LBL: see `StepRecord`), the DP-averaged d loss / d W,
  and the tokens per expert summed over the ranks."""
  score_function = rule.score_function
  num_experts, k, ranks = router.shape[1], problem.top_k, problem.ranks
  features = np.split(problem.features, ranks)
  targets = np.split(problem.targets, ranks)
  logits = [x @ router for x in features]
  routed = []
  for rank_logits in logits:
    if score_function == "sigmoid":  # DeepSeek-V3's Gate, checked against Megatron-LM's
      expert_bias = bias if rule.balance == "aux_loss_free" else None  # no bias otherwise
      gates, indices = deepseek_v3_gate(rank_logits, expert_bias, k)
      check, check_indices = topk_routing_with_score_function(rank_logits, k, "sigmoid",
                                                              expert_bias)
      assert np.array_equal(indices, check_indices) and np.allclose(gates, check, 1e-14, 0)
    else:
      gates, indices = topk_routing_with_score_function(rank_logits, k, "softmax")
    routed.append((gates, indices))
  routing_maps = [np.zeros((len(x), num_experts)) for x in features]
  for routing_map, (_, indices) in zip(routing_maps, routed):
    np.put_along_axis(routing_map, indices, 1.0, axis=1)
  load = sum(m.sum(axis=0) for m in routing_maps)  # the all-reduced tokens per expert

  aux = [compute_routing_scores_for_aux_loss(z, k, score_function) for z in logits]
  global_tokens_per_expert = sum(m.sum(axis=0) for m, _ in aux)
  totals = {"task_loss": 0.0, "lbl": 0.0, "z_loss": 0.0}
  grad = np.zeros_like(router)
  for x, y, z, (gates, indices), (aux_map, scores) in zip(features, targets, logits, routed, aux):
    local_tokens = len(x)
    out = np.einsum("tk,tko->to", gates, problem.expert_out[indices])
    residual = out - y
    totals["task_loss"] += 0.5 * np.mean(np.sum(residual ** 2, axis=1)) / ranks
    d_gates = np.einsum("to,tko->tk", residual, problem.expert_out[indices]) / local_tokens
    d_logits = _gate_backward(gates, indices, d_gates, z, score_function)

    if rule.balance in ("aux_loss", "global_aux_loss"):
      if rule.balance == "aux_loss":  # tp_cp group of one: f over the rank's tokens
        tokens_per_expert, total_num_tokens, scale = aux_map.sum(axis=0), local_tokens, 1.0
        logged_share = 1.0 / ranks  # logged as the mean over data-parallel ranks
      else:  # tp_dp_cp group = the data-parallel ranks
        tokens_per_expert, total_num_tokens = global_tokens_per_expert, local_tokens * ranks
        scale, logged_share = rule.global_lbl_dp_scale, 1.0  # logged as the sum over ranks
      args = (scores, tokens_per_expert, total_num_tokens, k, num_experts, rule.aux_loss_coeff)
      totals["lbl"] += logged_share * switch_load_balancing_loss_func(*args)
      d_scores = scale * switch_load_balancing_loss_grad(*args)
      d_logits += (_softmax_backward(scores, d_scores) if score_function == "softmax"
                   else _normalised_sigmoid_backward(z, d_scores))
    if rule.z_loss_coeff:
      totals["z_loss"] += z_loss_func(z, rule.z_loss_coeff) / ranks
      d_logits += z_loss_grad(z, rule.z_loss_coeff)
    grad += x.T @ d_logits / ranks  # DDP: the mean over data-parallel ranks
  return totals, grad, load


def train(problem: RouterProblem, rule: RoutingRule, router: np.ndarray, learning_rate: float,
          steps: int) -> list[StepRecord]:
  """Plain gradient descent on W; under aux_loss_free the bias takes one step per global batch
  (after the backward pass, before the optimizer step, as `finalize_model_grads` does)."""
  bias = np.zeros(router.shape[1])
  records = []
  for _ in range(steps):
    totals, grad, load = rank_losses_and_grads(problem, rule, router, bias)
    if rule.balance == "aux_loss_free":
      bias = get_updated_expert_bias(load, bias, rule.bias_update_rate)
    router = router - learning_rate * grad
    records.append(StepRecord(router=router, bias=bias, load=load,
                              lbl=totals["lbl"] / rule.aux_loss_coeff if rule.aux_loss_coeff
                              else 0.0,
                              z_loss=totals["z_loss"] / rule.z_loss_coeff if rule.z_loss_coeff
                              else 0.0,
                              task_loss=totals["task_loss"]))
  return records
