"""NadamW with linear warmup and cosine decay over `step_hint`: the AlgoPerf baseline.

Written in the AlgoPerf submission API, as AlgoPerf's JAX baseline is: it builds and jits its
own train step and returns `(optax_state, update_fn)` as its optimizer state.

The update is AlgoPerf's own `scale_by_nadam` (submissions/lib/nadam.py, which says how it
differs from optax.nadamw); tests/reference/nadamw_test.py runs this submission's optimizer
beside a port of AlgoPerf's file. `baselines/nadamw_optax.py` is the same algorithm in the
optax form, through the lab's one train step (tested to give this file's iterates).

Defaults: every value in HPARAMS, ε = 1e-8 and the schedule (linear warmup over
int(warmup_factor · step_hint) steps from 0, then cosine to 0 at step_hint) are those of
AlgoPerf's self-tuning NadamW baseline (the file above). `label_smoothing` and `grad_clip` are
read when present, as in AlgoPerf's external-tuning baseline
(algorithms/baselines/external_tuning/jax_nadamw_full_budget.py); AlgoPerf's self-tuning file
ignores the hyperparameters it is handed and always uses its HPARAMS, where this one reads
them, so that `algoperf-lab tune` can search them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import optax

from algoperf_lab import jax_sharding_utils, spec
from submissions.lib.nadam import nadamw
from submissions.lib.schedules.cosine import warmup_cosine

HPARAMS = {
    "dropout_rate": 0.1,
    "learning_rate": 0.0017486387539278373,
    "one_minus_beta1": 0.06733926164,
    "beta2": 0.9955159689799007,
    "weight_decay": 0.08121616522670176,
    "warmup_factor": 0.02,
}
OPTIONAL_HPARAMS = ("label_smoothing", "grad_clip")
_GRAD_CLIP_EPS = 1e-6
def get_batch_size(workload_name: str) -> int:
  raise KeyError(workload_name)  # use each workload's default batch size


def init_optimizer_state(workload: spec.Workload, model_params: spec.ParameterContainer,
                         model_state: spec.ModelAuxiliaryState, hyperparameters: spec.Hyperparameters,
                         rng: spec.RandomState) -> spec.OptimizerState:
  del model_state, rng
  schedule = warmup_cosine(hyperparameters.learning_rate, workload.step_hint,
                           hyperparameters.warmup_factor)
  optimizer = nadamw(schedule, b1=1.0 - hyperparameters.one_minus_beta1,
                     b2=hyperparameters.beta2, weight_decay=hyperparameters.weight_decay)
  zeros = jax.tree.map(lambda s: jnp.zeros(s.shape_tuple), workload.param_shapes)
  optimizer_state = jax_sharding_utils.replicate(optimizer.init(zeros))
  return optimizer_state, optimizer.update


def _train_step(workload: spec.Workload, update_fn: Any, model_state: Any, optimizer_state: Any,
                params: Any, batch: spec.Batch, rng: jax.Array, grad_clip: float | None,
                label_smoothing: float, dropout_rate: float) -> tuple[Any, ...]:
  def mean_loss(p: Any) -> tuple[jax.Array, tuple[jax.Array, Any]]:
    logits, new_model_state = workload.model_fn(p, batch, model_state, spec.ForwardPassMode.TRAIN,
                                                rng, update_batch_norm=True,
                                                dropout_rate=dropout_rate)
    losses = workload.loss_fn(batch["targets"], logits, batch.get("weights"), label_smoothing)
    return losses["summed"] / losses["n_valid_examples"], (losses["n_valid_examples"],
                                                           new_model_state)

  (loss, (_, new_model_state)), grads = jax.value_and_grad(mean_loss, has_aux=True)(params)
  grad_norm = optax.tree.norm(grads)
  if grad_clip is not None:
    scale = jnp.minimum(1.0, grad_clip / (grad_norm + _GRAD_CLIP_EPS))
    grads = jax.tree.map(lambda g: g * scale, grads)
  updates, new_optimizer_state = update_fn(grads, optimizer_state, params)
  return new_optimizer_state, optax.apply_updates(params, updates), new_model_state, loss, grad_norm


# Built once: the workload and update function are static, so later calls reuse the compile.
# grad_clip, label_smoothing and dropout_rate are static too (Python numbers, fixed for a run):
# a rate of 0 then compiles no dropout at all, where a traced 0 still drew the masks.
_jitted_train_step = jax.jit(_train_step, static_argnums=(0, 1, 7, 8, 9),
                             donate_argnums=(2, 3, 4))


def _static_number(value: Any) -> float | None:
  """A hyperparameter as a hashable Python float for a static jit argument (None stays)."""
  return None if value is None else float(value)


def update_params(workload: spec.Workload, current_param_container: spec.ParameterContainer,
                  current_params_types: spec.ParameterTypeTree,
                  model_state: spec.ModelAuxiliaryState, hyperparameters: spec.Hyperparameters,
                  batch: dict[str, spec.Batch], loss_type: spec.LossType,
                  optimizer_state: spec.OptimizerState, eval_results: list[tuple[int, float]],
                  global_step: int, rng: spec.RandomState,
                  train_state: dict[str, Any] | None = None) -> spec.UpdateReturn:
  del current_params_types, loss_type, eval_results, global_step, train_state
  optax_state, update_fn = optimizer_state
  new_optax_state, new_params, new_model_state, _, _ = _jitted_train_step(
      workload, update_fn, model_state, optax_state, current_param_container, batch, rng,
      _static_number(getattr(hyperparameters, "grad_clip", None)),
      _static_number(getattr(hyperparameters, "label_smoothing", 0.0)),
      _static_number(getattr(hyperparameters, "dropout_rate", 0.0)))
  return (new_optax_state, update_fn), new_params, new_model_state


def data_selection(workload: spec.Workload, input_queue: Iterator[dict[str, spec.Batch]],
                   optimizer_state: spec.OptimizerState,
                   current_param_container: spec.ParameterContainer,
                   model_state: spec.ModelAuxiliaryState, hyperparameters: spec.Hyperparameters,
                   global_step: int, rng: spec.RandomState) -> dict[str, spec.Batch]:
  del workload, optimizer_state, current_param_container, model_state, hyperparameters
  del global_step, rng
  return next(input_queue)
