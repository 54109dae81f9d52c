"""The MoE LM workload `lm_moe`: the dense LM with routed experts in every block.

The routing *algorithm* is the submission's choice, through WORKLOAD_OPTIONS (see
`RoutingConfig`; the config's `routing` section holds the defaults a submission that sets
none gets). `score_function` reaches the layer (`MoeConfig.score_function`: the model is
rebuilt when the options are applied, before anything is traced); the others are read here.
How it reaches training (the step contract, algoperf_lab/harness/optax_form.py):

- `model_fn` returns, as its new model_state, the router bias (DeepSeek-V3's auxiliary-loss-free
  balancing, a per-expert [E] bias per layer) and this batch's router statistics per layer
  (`lbl`, `z_loss` — still differentiable, the step computes them inside its value_and_grad —
  and the load, MaxVio, router entropy and dropped fraction). With `balance=aux_loss_free`
  and `update_batch_norm=True` (AlgoPerf's flag for "this is a training step") the returned
  bias has taken one sign step from this batch's load: the update is a model-state update
  inside the pure step, never a gradient.
- `auxiliary_loss(model_state)`: lbl_coef · mean over layers of the LBL (for the two *_lbl
  balances) + z_loss_coef · mean over layers of the router z-loss. The lab's optax-form step
  adds it to the mean cross-entropy before differentiating; an AlgoPerf-form submission adds
  it itself if it wants it (its own loss otherwise trains on cross-entropy alone; the bias
  update still happens, it lives in model_state).
- `train_step_metrics(model_state)`: per-layer `moe/layer_<l>/{lbl,z_loss,max_vio,
  router_entropy,dropped_fraction}`, logged as `train_step/...`. Under either score function
  the LBL's p_i and the router entropy read the layer's per-expert probabilities (the softmax,
  or the sigmoid scores normalised over experts), the z-loss the logits, the load, MaxVio and
  the bias step the top-k choice (workloads/lm/routing.py).
- `eval_model` adds, on the validation split, per-layer `validation/moe/layer_<l>/...`
  (MaxVio, router entropy, dropped fraction, `specialisation`: the normalised mutual
  information I(E; D)/H(D) of algoperf_lab/scoring/specialisation.py) and the expert × domain counts
  `validation/moe/layer_<l>/count/e<e>_d<d>` (each token's top-k choices counted once per
  chosen expert; domain 0 = Austen, 1 = Python) that the specialisation report reads.

Micro-batch LBL cuts the global batch into `lbl_micro_batches` consecutive groups of
sequences; on a data-parallel mesh with that many shards each group is one device's shard
(the batch is split along its leading dimension), so the paper's per-rank LBL and its
global-batch LBL (f_i summed over all groups, an all-reduce under GSPMD) are both the
computation the mesh runs, and the same numbers on one CPU.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from algoperf_lab import spec
from algoperf_lab.config import dataclass_from_config
from algoperf_lab.scoring import specialisation
from configs import lm_moe as lm_moe_configs
from workloads.lm import input_pipeline, mixture, routing
from workloads.lm.model import DecoderLm
from workloads.lm.moe import ROUTER_BIAS, STATS, MoeConfig
from workloads.lm.workload import LmWorkload

BALANCES = ("none", "micro_batch_lbl", "global_batch_lbl", "aux_loss_free")
LBL_BALANCES = ("micro_batch_lbl", "global_batch_lbl")
NUM_DOMAINS = 2  # 0: Jane Austen, 1: Python source (workloads/lm/mixture.py)
LAYER_METRICS = ("lbl", "z_loss", "max_vio", "router_entropy", "dropped_fraction")


@dataclasses.dataclass(frozen=True)
class RoutingConfig:
  """The routing algorithm: the config's defaults, overridden by WORKLOAD_OPTIONS."""

  balance: str
  lbl_coef: float
  z_loss_coef: float
  bias_update_rate: float
  lbl_micro_batches: int
  score_function: str

  def __post_init__(self) -> None:
    if self.balance not in BALANCES:
      raise ValueError(f"balance={self.balance!r} is not one of {', '.join(BALANCES)}.")
    if self.score_function not in routing.SCORE_FUNCTIONS:
      raise ValueError(f"score_function={self.score_function!r} is not one of "
                       f"{', '.join(routing.SCORE_FUNCTIONS)}.")
    for name in ("lbl_coef", "z_loss_coef", "bias_update_rate"):
      value = getattr(self, name)
      if (isinstance(value, bool) or not isinstance(value, (int, float))
          or not 0 <= value < math.inf):
        raise ValueError(f"{name}={value!r} must be a finite number of at least 0.")
    if (isinstance(self.lbl_micro_batches, bool) or not isinstance(self.lbl_micro_batches, int)
        or self.lbl_micro_batches < 1):
      raise ValueError(f"lbl_micro_batches={self.lbl_micro_batches!r} must be a whole number "
                       "of at least 1.")


OPTION_MEANINGS = {
    "balance": f"load balancing: one of {', '.join(BALANCES)}",
    "lbl_coef": "weight of the load-balancing loss (for the *_lbl balances), >= 0",
    "z_loss_coef": "weight of the router z-loss, >= 0",
    "bias_update_rate": "aux_loss_free: the bias step per training step (gamma), >= 0",
    "lbl_micro_batches": "micro_batch_lbl: micro-batches the global batch is cut into, >= 1",
    "score_function": ("router scores: softmax (the default), or sigmoid as DeepSeek-V3's "
                       "Gate (top-k of scores + bias, the chosen scores normalised to sum 1; "
                       "the LBL and router entropy read the scores normalised over experts)"),
}


class LmMoeWorkload(LmWorkload):
  """The dense LM's model, data and loss with routed experts in place of every block's MLP."""

  name = "lm_moe"
  description = ("MoE LM: routed + shared experts in every block, routing chosen by the "
                 "submission; byte-level Austen + Python source (tiny)")
  sizes = lm_moe_configs.SIZES

  @classmethod
  def get_config(cls, size: str) -> ml_collections.ConfigDict:
    return lm_moe_configs.get_config(size)

  def __init__(self, config: ml_collections.ConfigDict, size: str):
    super().__init__(config, size)
    self.routing = dataclass_from_config(RoutingConfig, config.routing, f"{self.name}.routing")
    moe = dataclass_from_config(MoeConfig, config.moe, f"{self.name}.moe")
    self._build_model(moe)
    self._moe_eval_step = jax.jit(self._moe_eval_sums)
    self.mixture_config = (self._mixture_config(config)
                           if self.data_config.source == "mixture" else None)

  def _build_model(self, moe: MoeConfig) -> None:
    """The model with the routing's score function in its layers' MoeConfig."""
    moe = dataclasses.replace(moe, score_function=self.routing.score_function)
    self.model_config = dataclasses.replace(self.model_config, moe=moe)
    self._model = DecoderLm(self.model_config)

  @property
  def moe_config(self) -> MoeConfig:
    assert self.model_config.moe is not None
    return self.model_config.moe

  # -- data ------------------------------------------------------------------------------------
  def _mixture_config(self, config: ml_collections.ConfigDict) -> mixture.MixtureDataConfig:
    shared = {f.name: getattr(self.data_config, f.name)
              for f in dataclasses.fields(mixture.MixtureDataConfig)
              if hasattr(self.data_config, f.name)}
    return dataclass_from_config(mixture.MixtureDataConfig, {**shared, **config.mixture},
                                 f"{self.name}.mixture")

  def token_splits(self, data_dir: str | None) -> Any:
    """The dense LM's token arrays, or for data.source='mixture' the MixtureSplits."""
    if self.mixture_config is None:
      return super().token_splits(data_dir)
    if self._splits is None:
      self._splits = mixture.load_mixture_splits(self.mixture_config, data_dir)
    return self._splits

  def _train_dataset(self, data_dir: str | None, global_batch_size: int, seed: int) -> Any:
    if self.mixture_config is None:
      return super()._train_dataset(data_dir, global_batch_size, seed)
    return mixture.train_batches(self.token_splits(data_dir)["train"], self.data_config.seq_len,
                                 global_batch_size, seed)

  def _eval_dataset(self, split: str, data_dir: str | None, num_examples: int) -> Any:
    if self.mixture_config is None:
      return super()._eval_dataset(split, data_dir, num_examples)
    return mixture.eval_batches(self.token_splits(data_dir)[split], self.data_config.seq_len,
                                num_examples, self.data_config.eval_batch_size)

  # -- options chosen by the submission ------------------------------------------------------------
  @property
  def accepted_options(self) -> dict[str, str]:
    return dict(OPTION_MEANINGS)

  def _apply_options(self, options: dict[str, Any]) -> None:
    """Validates the values (one line naming the option) and records them in the config, so
    result.json's workload config and the resume fingerprint carry them."""
    try:
      self.routing = dataclasses.replace(self.routing, **options)
    except ValueError as error:
      raise spec.WorkloadOptionError(f"workload {self.name!r}: WORKLOAD_OPTIONS {error}") from None
    with self.config.unlocked():
      self.config.routing.update(dataclasses.asdict(self.routing))
    self._build_model(self.moe_config)

  def check_batch_size(self, batch_size: int) -> None:
    """Micro-batches are whole sequences: lbl_micro_batches must divide the batch (checked
    before anything compiles)."""
    if self.routing.balance in LBL_BALANCES and batch_size % self.routing.lbl_micro_batches:
      raise spec.WorkloadOptionError(
          f"workload {self.name!r}: lbl_micro_batches={self.routing.lbl_micro_batches} does not "
          f"divide the batch of {batch_size} sequences (micro-batches are whole sequences); "
          "choose a divisor of the batch size.")

  # -- model -----------------------------------------------------------------------------------
  def init_model_fn(self, rng: spec.RandomState) -> tuple[Any, Any]:
    """(params, model_state): the router bias at 0 and zero statistics."""
    def init(key: jax.Array) -> Any:
      return {"params": self._model.init(key, self._dummy_tokens())["params"]}

    return self._init_flax_params(init, rng), self._initial_model_state()

  def _initial_model_state(self) -> dict[str, Any]:
    variables = jax.eval_shape(self._model.init, jax.random.PRNGKey(0), self._dummy_tokens())
    bias = jax.tree.map(lambda leaf: jnp.zeros(leaf.shape, leaf.dtype), variables[ROUTER_BIAS])
    layers, experts = self.model_config.num_layers, self.moe_config.num_experts
    stats = {name: jnp.zeros((layers,), jnp.float32) for name in LAYER_METRICS}
    stats["load"] = jnp.zeros((layers, experts), jnp.float32)
    return {ROUTER_BIAS: bias, "stats": stats}

  def _layer_stats(self, sown: Any) -> list[dict[str, jax.Array]]:
    """Per block, its router's arrays flattened to tokens: logits, probs, selected, dropped."""
    layers = []
    for layer in range(self.model_config.num_layers):
      values = sown[f"block_{layer}"]["mlp"]
      layers.append({name: value[0].reshape(-1, *value[0].shape[2:])
                     for name, value in values.items()})
    return layers

  def _apply(self, params: Any, model_state: Any, tokens_BxL: jax.Array, rate: Any,
             deterministic: bool, rng: Any) -> tuple[jax.Array, list[dict[str, jax.Array]]]:
    logits_BxLxV, sown = self._model.apply(
        {"params": params, ROUTER_BIAS: model_state[ROUTER_BIAS]}, tokens_BxL,
        dropout_rate=rate, deterministic=deterministic,
        rngs=None if deterministic else {"dropout": rng}, mutable=[STATS])
    return logits_BxLxV, self._layer_stats(sown[STATS])

  def _lbl(self, probs_TxE: jax.Array, selected_TxE: jax.Array, batch_size: int) -> jax.Array:
    if self.routing.balance in LBL_BALANCES and batch_size % self.routing.lbl_micro_batches:
      raise ValueError(f"lbl_micro_batches={self.routing.lbl_micro_batches} does not divide the "
                       f"batch of {batch_size} sequences; micro-batches are whole sequences.")
    if self.routing.balance == "micro_batch_lbl":
      return routing.micro_batch_lbl(probs_TxE, selected_TxE, self.routing.lbl_micro_batches)
    groups = self.routing.lbl_micro_batches if self.routing.balance == "global_batch_lbl" else 1
    return routing.global_batch_lbl(probs_TxE, selected_TxE, groups)

  def _stats(self, layers: list[dict[str, jax.Array]], batch_size: int) -> dict[str, jax.Array]:
    top_k = self.moe_config.top_k
    per_layer = []
    for layer in layers:
      load_E = jax.lax.stop_gradient(layer["selected"].sum(axis=0))
      per_layer.append({
          "lbl": self._lbl(layer["probs"], layer["selected"], batch_size),
          "z_loss": routing.router_z_loss(layer["logits"]),
          "max_vio": routing.max_violation(load_E),
          "router_entropy": jax.lax.stop_gradient(routing.router_entropy(layer["probs"])),
          "dropped_fraction": routing.dropped_fraction(layer["dropped"], top_k),
          "load": load_E})
    return {name: jnp.stack([layer[name] for layer in per_layer]) for name in per_layer[0]}

  def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: spec.Batch,
               model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
               update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[jax.Array, Any]:
    """(logits, model_state with this batch's router statistics and, in a training step under
    aux_loss_free, the bias after its update)."""
    model_state = self._initial_model_state() if model_state is None else model_state
    rate, deterministic = self._dropout(dropout_rate, self.model_config.dropout_rate, mode)
    logits_BxLxV, layers = self._apply(params, model_state,
                                       augmented_and_preprocessed_input_batch["inputs"], rate,
                                       deterministic, rng)
    stats = self._stats(layers, augmented_and_preprocessed_input_batch["inputs"].shape[0])
    bias = model_state[ROUTER_BIAS]
    if (mode is spec.ForwardPassMode.TRAIN and update_batch_norm
        and self.routing.balance == "aux_loss_free"):
      bias = {f"block_{layer}": {"mlp": {"bias": routing.aux_free_bias_update(
          bias[f"block_{layer}"]["mlp"]["bias"], stats["load"][layer],
          self.routing.bias_update_rate)}} for layer in range(self.model_config.num_layers)}
    return logits_BxLxV, {ROUTER_BIAS: bias, "stats": stats}

  def auxiliary_loss(self, model_state: Any) -> jax.Array | None:
    stats, terms = model_state["stats"], []
    if self.routing.balance in LBL_BALANCES and self.routing.lbl_coef:
      terms.append(self.routing.lbl_coef * stats["lbl"].mean())
    if self.routing.z_loss_coef:
      terms.append(self.routing.z_loss_coef * stats["z_loss"].mean())
    return sum(terms[1:], terms[0]) if terms else None

  def train_step_metrics(self, model_state: Any) -> dict[str, jax.Array]:
    stats = model_state["stats"]
    return {f"moe/layer_{layer}/{name}": stats[name][layer]
            for layer in range(self.model_config.num_layers) for name in LAYER_METRICS}

  # -- evaluation ------------------------------------------------------------------------------
  def _moe_eval_sums(self, params: Any, model_state: Any,
                     batch: spec.Batch) -> tuple[jax.Array, jax.Array, dict[str, jax.Array]]:
    """Summed loss, token count, and per layer the expert × domain choice counts [Ly, E, D],
    summed router entropy [Ly] and dropped pairs [Ly] of one eval batch."""
    logits, layers = self._apply(params, model_state, batch["inputs"], 0.0, True, None)
    losses = self.loss_fn(batch["targets"], logits, batch["weights"])
    batch_size, length = batch["inputs"].shape
    domain_B = batch.get("domain", jnp.zeros((batch_size,), jnp.int32))
    domain_TxD = jnp.repeat(jax.nn.one_hot(domain_B, NUM_DOMAINS, dtype=jnp.float32), length,
                            axis=0)
    entropy = lambda p: -jnp.sum(p * jnp.log(jnp.maximum(p, 1e-30)), axis=-1).sum()  # noqa: E731
    sums = {"counts": jnp.stack([jnp.einsum("te,td->ed", layer["selected"], domain_TxD)
                                 for layer in layers]),
            "entropy": jnp.stack([entropy(layer["probs"]) for layer in layers]),
            "dropped": jnp.stack([layer["dropped"].sum().astype(jnp.float32) for layer in layers])}
    return losses["summed"], losses["n_valid_examples"], sums

  def eval_model(self, global_batch_size: int, params: Any, model_state: Any,
                 rng: spec.RandomState, data_dir: str | None,
                 imagenet_v2_data_dir: str | None = None, global_step: int = 0) -> dict[str, float]:
    """The dense LM's metrics (at this model_state's router bias) plus, on the validation
    split, the router's per layer."""
    del global_batch_size, rng, imagenet_v2_data_dir, global_step
    model_state = self._initial_model_state() if model_state is None else model_state
    results: dict[str, float] = {}
    for split in input_pipeline.SPLITS:
      totals: Any = None
      for batch in self._eval_batches(split, data_dir):
        sums = self._moe_eval_step(params, model_state, batch)
        totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
      summed, count, router = totals
      results.update(self._split_metrics(split, float(summed / count)))
      if split == "validation":
        results.update(self._router_metrics(jax.tree.map(np.asarray, router)))
    return results

  def _router_metrics(self, router: dict[str, np.ndarray]) -> dict[str, float]:
    top_k, results = self.moe_config.top_k, {}
    counts_LxExD = router["counts"].astype(np.float64)
    tokens = counts_LxExD[0].sum() / top_k
    nmi_L = specialisation.normalised_mutual_information(counts_LxExD)
    for layer, counts_ExD in enumerate(counts_LxExD):
      prefix = f"validation/moe/layer_{layer}"
      if np.isfinite(nmi_L[layer]):  # NaN with one domain only (nothing to specialise on)
        results[f"{prefix}/specialisation"] = float(nmi_L[layer])
      results[f"{prefix}/max_vio"] = float(routing.max_violation(jnp.asarray(counts_ExD.sum(1))))
      results[f"{prefix}/router_entropy"] = float(router["entropy"][layer]) / tokens
      results[f"{prefix}/dropped_fraction"] = float(router["dropped"][layer]) / (tokens * top_k)
      for expert, row in enumerate(counts_ExD):
        for domain, count in enumerate(row):
          results[f"{prefix}/count/e{expert}_d{domain}"] = float(count)
    return results
