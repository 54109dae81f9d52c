"""A dropout rate of 0 compiles no dropout, in both submission forms (issue 19: the AlgoPerf-form
NadamW passed its rate into the jitted step as a traced value, so masks were drawn at rate 0)."""

from __future__ import annotations

import jax
import pytest

from algoperf_lab import hyperparameters, loader, registry
from tests.helpers import ADAMW, NADAMW, SMALL_LM_OVERRIDES

RANDOM_BITS_OPS = ("rng_bit_generator", "threefry", "random_bits")


def _draws_random_bits(hlo_text: str) -> bool:
  return any(op in hlo_text for op in RANDOM_BITS_OPS)


@pytest.fixture(scope="module")
def small_lm():
  workload = registry.make_workload("lm", "tiny", SMALL_LM_OVERRIDES)
  params, model_state = workload.init_model_fn(jax.random.PRNGKey(0))
  batch = next(workload.build_input_queue(jax.random.PRNGKey(1), "train", None,
                                          workload.default_batch_size))
  return workload, params, model_state, batch


def _nadamw_step_hlo(small_lm, dropout_rate: float) -> str:
  from submissions.baselines import nadamw

  workload, params, model_state, batch = small_lm
  submission = loader.load_submission(NADAMW)
  hparams = hyperparameters.make_hyperparameters(submission.default_hparams,
                                                 {"dropout_rate": dropout_rate}, NADAMW)
  optax_state, update_fn = nadamw.init_optimizer_state(workload, params, model_state, hparams,
                                                       jax.random.PRNGKey(2))
  lowered = nadamw._jitted_train_step.lower(  # pylint: disable=protected-access
      workload, update_fn, model_state, optax_state, params, batch, jax.random.PRNGKey(3),
      None, 0.0, dropout_rate)
  return lowered.as_text()


@pytest.mark.parametrize("rate, draws", [(0.0, False), (0.1, True)])
def test_the_algoperf_form_nadamw_step_draws_masks_only_when_it_drops(small_lm, rate, draws):
  assert _draws_random_bits(_nadamw_step_hlo(small_lm, rate)) is draws


@pytest.mark.parametrize("rate, draws", [(0.0, False), (0.1, True)])
def test_the_optax_form_step_draws_masks_only_when_it_drops(small_lm, rate, draws):
  from algoperf_lab.harness import optax_form

  workload, params, model_state, batch = small_lm
  submission = loader.load_submission(ADAMW)
  hparams = hyperparameters.make_hyperparameters(submission.default_hparams,
                                                 {"dropout_rate": rate}, ADAMW)
  optimizer = submission.module.make_optimizer(hparams, workload)
  opt_state = optimizer.init(params)
  shardings = optax_form.algoperf_shardings(params, opt_state)
  step = optax_form.build_train_step(workload, optimizer, 0.0, rate, shardings)
  hlo = step.lower(optax_form.TrainState(params, model_state, opt_state), batch,
                   jax.random.PRNGKey(3)).as_text()
  assert _draws_random_bits(hlo) is draws
