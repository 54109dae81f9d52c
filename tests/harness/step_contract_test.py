"""The training-step contract: extra arguments, step metrics, eval_params, workload options."""

from __future__ import annotations

import json

import pytest

from algoperf_lab import cli
from tests.helpers import SMALL_LM_OVERRIDES
from tests.workloads.gnn_run_test import SMALL_GNN_RUN_OVERRIDES

RUN = ("--max_steps=2", "--eval_every_steps=2", "--no_progress", "--no_checkpoints")

SAM_OPAQUE = '''"""optax.contrib.sam in opaque mode: it calls grad_fn(params, i) itself."""
import optax
from optax import contrib
HPARAMS = {"learning_rate": 1e-3}

def make_optimizer(hparams, workload):
  return contrib.sam(optax.adam(hparams.learning_rate), optax.sgd(0.05), opaque_mode=True)
'''

READS_EXTRAS = '''"""Records what reached it through the step's extra arguments."""
from typing import NamedTuple
import jax, jax.numpy as jnp, optax
HPARAMS = {"learning_rate": 1e-3}

class Seen(NamedTuple):
  value: jax.Array
  task_axis: jax.Array
  task_values: jax.Array
  value_fn_at_params: jax.Array

def _recorder():
  def init(params):
    zero = jnp.zeros([])
    return Seen(zero, zero, jnp.zeros([TASKS]), zero)
  def update(updates, state, params=None, *, value, value_fn, task_values=None,
             task_grads_fn=None, **extra):
    task_grads = task_grads_fn(params) if task_grads_fn is not None else None
    axis = jax.tree.leaves(task_grads)[0].shape[0] if task_grads is not None else 0
    tv = task_values if task_values is not None else jnp.zeros([TASKS])
    return updates, Seen(value, jnp.asarray(axis, jnp.float32), tv, value_fn(params))
  return optax.GradientTransformationExtraArgs(init, update)

TASKS = TASKS_PLACEHOLDER

def make_optimizer(hparams, workload):
  return optax.chain(_recorder(), optax.adam(hparams.learning_rate))

def train_metrics(opt_state, params):
  seen = opt_state[0]
  return {"seen_value": seen.value, "task_axis": seen.task_axis,
          "task_values_sum": seen.task_values.sum(), "value_fn_at_params": seen.value_fn_at_params}
'''


def _run(tmp_path, source: str, workload: str, overrides) -> dict:
  path = tmp_path / "submission.py"
  path.write_text(source)
  code = cli.main(["run", f"--workload={workload}", f"--submission={path}",
                   f"--workdir={tmp_path / 'run'}", *RUN, *overrides])
  assert code == 0
  return json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])


def test_sam_in_opaque_mode_gets_grad_fn(tmp_path):
  line = _run(tmp_path, SAM_OPAQUE, "lm", SMALL_LM_OVERRIDES)
  assert line["step"] == 2 and line["train_step/loss"] is not None


def test_value_and_value_fn_reach_the_transformation_and_metrics_are_logged(tmp_path):
  line = _run(tmp_path, READS_EXTRAS.replace("TASKS_PLACEHOLDER", "1"), "lm", SMALL_LM_OVERRIDES)
  # value is this batch's loss; value_fn at the (pre-update) params gives the same number.
  assert line["train_step/seen_value"] == pytest.approx(line["train_step/loss"], rel=1e-5)
  assert line["train_step/value_fn_at_params"] == pytest.approx(line["train_step/loss"], rel=1e-4)
  assert line["train_step/task_axis"] == 0.0  # single-task: no per-task extras


def test_multi_task_workloads_pass_per_task_values_and_gradients(tmp_path):
  line = _run(tmp_path, READS_EXTRAS.replace("TASKS_PLACEHOLDER", "12"), "gnn",
              SMALL_GNN_RUN_OVERRIDES)
  assert line["train_step/task_axis"] == 12.0  # QM9's 12 targets, leading T axis
  assert line["train_step/task_values_sum"] > 0.0


def test_unknown_workload_options_are_refused_by_name(tmp_path, capsys):
  path = tmp_path / "submission.py"
  path.write_text('"""x"""\nimport optax\nHPARAMS = {"learning_rate": 1e-3}\n'
                  'WORKLOAD_OPTIONS = {"balance": "global_batch_lbl"}\n'
                  'def make_optimizer(hparams, workload):\n  return optax.adam(hparams.learning_rate)\n')
  code = cli.main(["run", "--workload=lm", f"--submission={path}", f"--workdir={tmp_path / 'r'}",
                   *RUN, *SMALL_LM_OVERRIDES])
  assert code == 2
  assert "does not accept the option(s) ['balance']" in capsys.readouterr().err
