"""What every reference-trajectory test shares.

A reference test runs a bundled submission's optimizer, built by the submission's own
`make_optimizer` from its own `HPARAMS` (overrides only where the test says why), beside a
numpy port of its authors' code (`tests/reference/ports/`) on a small float64 problem for
`REFERENCE_STEPS` or more steps, and compares the iterates (and the evaluation point, for
averaging methods) to a stated tolerance.

Each test module declares `COVERS`, the bundled submission files (relative to the repository
root) it checks against their authors' code; `coverage_test.py` and the conformance suite fail
for a bundled submission that no module covers.

The lab's optimizer is driven as the lab's train step drives it (algoperf_lab/harness/
optax_form.py): `update(grads, state, params, **extra)` with `value`, `value_fn`/`obj_fn`,
`grad_fn` and, with per-task losses, `task_values`, `task_grads_fn` (one `jax.jacrev`) and
`task_value_fn`; extras an update does not accept are filtered out as the step filters them.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import contextlib
import jax
import jax.numpy as jnp
import numpy as np
import optax

from algoperf_lab import hyperparameters, loader, spec
from algoperf_lab.harness import optax_form
from tests.helpers import REPO_ROOT

REFERENCE_STEPS = 30  # the fewest steps a reference test compares (the standard asks for 20+)
REFERENCE_DIR = Path(__file__).resolve().parent

Params = Any  # a pytree of float64 arrays


@contextlib.contextmanager
def float64() -> Iterator[None]:
  """JAX in float64 for the block (the lab's optimizers are dtype-generic)."""
  with jax.enable_x64(True):
    yield


def submission_module(path: str) -> ModuleType:
  """The bundled submission at `path` (relative to the repository root), loaded as the lab does."""
  return loader.load_submission(str(REPO_ROOT / path)).module


@dataclasses.dataclass
class ToyWorkload:
  """What `make_optimizer` reads from a workload, for a toy problem.

  `params` is the initial point (a dict of arrays); `param_types` gives each top-level key's
  AlgoPerf parameter type (default: WEIGHT for 2-D arrays, BIAS otherwise), which Muon's
  routing reads; `output_key` names the output layer.
  """

  params: dict[str, Any]
  step_hint: int = 40
  num_tasks: int = 1
  param_types: dict[str, spec.ParameterType] = dataclasses.field(default_factory=dict)
  output_key: str = ""
  name: str = "toy"

  @property
  def model_params_types(self) -> dict[str, spec.ParameterType]:
    return {k: self.param_types.get(k, spec.ParameterType.WEIGHT if np.ndim(v) == 2
                                    else spec.ParameterType.BIAS)
            for k, v in self.params.items()}

  @property
  def param_shapes(self) -> dict[str, spec.ShapeTuple]:
    return {k: spec.ShapeTuple(np.shape(v)) for k, v in self.params.items()}

  def is_output_params(self, param_key: str) -> bool:
    return param_key == self.output_key


def lab_hparams(module: ModuleType, **overrides: Any) -> Any:
  """The submission's own HPARAMS, with `overrides` (each test says why it overrides)."""
  return hyperparameters.make_hyperparameters(module.HPARAMS, overrides, module.__name__)


def lab_optimizer(module: ModuleType, workload: ToyWorkload,
                  **overrides: Any) -> optax.GradientTransformationExtraArgs:
  """`module.make_optimizer` from its HPARAMS (plus overrides), with extra-args support."""
  return optax.with_extra_args_support(module.make_optimizer(lab_hparams(module, **overrides),
                                                             workload))


@dataclasses.dataclass
class Trajectory:
  """The iterates after each step (numpy pytrees), the eval points where the module has
  `eval_params`, and the optimizer state after the last step."""

  iterates: list[Params]
  eval_points: list[Params]
  final_state: Any


def run_lab(optimizer: optax.GradientTransformation, params: Params,
            loss_fn: Callable[[Params], jax.Array], steps: int,
            task_losses_fn: Callable[[Params], jax.Array] | None = None,
            eval_params: Callable[[Any, Params], Params] | None = None) -> Trajectory:
  """`steps` updates of `optimizer` from `params` on `loss_fn`, as the lab's step calls them.

  `task_losses_fn(params)` -> [T] per-task losses, on multi-task problems (then `loss_fn` is
  their mean, as on the lab's multi-task workloads). Call it inside `float64()`.
  """
  optimizer = optax.with_extra_args_support(optimizer)
  accepted = optax_form._accepted_extras(optimizer.update)  # pylint: disable=protected-access
  params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), params)

  def value_fn(p: Params) -> jax.Array:
    return loss_fn(p)

  def grad_fn(p: Params, i: Any = None) -> Params:
    del i
    return jax.grad(value_fn)(p)

  @jax.jit
  def step(p: Params, state: Any) -> tuple[Params, Any]:
    value, grads = jax.value_and_grad(loss_fn)(p)
    extra: dict[str, Any] = {"value": value, "value_fn": value_fn, "obj_fn": value_fn,
                             "grad_fn": grad_fn}
    if task_losses_fn is not None:
      extra.update(task_values=task_losses_fn(p), task_grads_fn=jax.jacrev(task_losses_fn),
                   task_value_fn=task_losses_fn)
    updates, state = optimizer.update(grads, state, p, **accepted(extra))
    return optax.apply_updates(p, updates), state

  state = optimizer.init(params)
  iterates, eval_points = [], []
  for _ in range(steps):
    params, state = step(params, state)
    iterates.append(jax.tree.map(np.asarray, params))
    if eval_params is not None:
      eval_points.append(jax.tree.map(np.asarray, eval_params(state, params)))
  return Trajectory(iterates=iterates, eval_points=eval_points, final_state=state)


@dataclasses.dataclass
class SubmissionRun(Trajectory):
  """A bundled submission's trajectory, with what `run_submission` built its optimizer from."""

  module: ModuleType
  hparams: Any  # its HPARAMS with the overrides
  workload: ToyWorkload


def run_submission(path: str, params: Params, loss_fn: Callable[[Params], jax.Array],
                   steps: int, step_hint: int = 40, eval_points: bool = False,
                   **overrides: Any) -> SubmissionRun:
  """`steps` steps, in float64, of the bundled submission at `path` (its `make_optimizer` from
  its HPARAMS plus `overrides`, for a `ToyWorkload` at `params` with `step_hint`) from `params`
  on `loss_fn`; with `eval_points`, the module's `eval_params` after each step too."""
  module = submission_module(path)
  workload = ToyWorkload(params=params, step_hint=step_hint)
  with float64():
    lab = run_lab(lab_optimizer(module, workload, **overrides), params, loss_fn, steps,
                  eval_params=module.eval_params if eval_points else None)
  return SubmissionRun(lab.iterates, lab.eval_points, lab.final_state, module,
                       lab_hparams(module, **overrides), workload)


def assert_moves(iterates: list[Params], start: Params, at_least: float) -> None:
  """Fails unless the last iterate is more than `at_least` (relative) from `start`: a toy that
  barely moves proves little."""
  moved = max_relative_difference(iterates[-1:], [start])
  assert moved > at_least, f"the toy barely moves ({moved:.2g}): the check would prove little"


def _flat(tree: Params) -> np.ndarray:
  return np.concatenate([np.ravel(np.asarray(leaf, np.float64)) for leaf in jax.tree.leaves(tree)])


def max_relative_difference(lab: list[Params], reference: list[Params]) -> float:
  """max over steps of ‖lab_t − ref_t‖ / ‖ref_t‖ (the norm over all leaves; ‖ref_t‖ floored
  at 1e-12); inf when any iterate is not finite. Both lists must have equal length and equal
  tree structure."""
  if len(lab) != len(reference):
    raise ValueError(f"{len(lab)} lab iterates against {len(reference)} reference iterates")
  worst = 0.0
  for got, want in zip(lab, reference):
    got_flat, want_flat = _flat(got), _flat(want)
    difference = float(np.linalg.norm(got_flat - want_flat)
                       / max(np.linalg.norm(want_flat), 1e-12))
    if not np.isfinite(difference):  # a NaN or inf iterate on either side: never "close"
      return float("inf")
    worst = max(worst, difference)
  return worst


def assert_trajectories_match(lab: list[Params], reference: list[Params], rtol: float,
                              what: str = "iterates") -> float:
  """Fails naming the first step whose relative difference exceeds `rtol`; returns the max."""
  if len(lab) < REFERENCE_STEPS:
    raise AssertionError(f"a reference test compares {REFERENCE_STEPS}+ steps, got {len(lab)}")
  for t in range(len(lab)):
    difference = max_relative_difference([lab[t]], [reference[t]])
    assert difference <= rtol, (f"{what} differ from the authors' code at step {t + 1}: "
                                f"relative difference {difference:.3g} > {rtol:.3g}")
  return max_relative_difference(lab, reference)


def covered_submissions() -> dict[str, list[str]]:
  """Bundled submission path -> the reference test modules whose `COVERS` lists it (read with
  `ast`, so nothing is imported)."""
  covered: dict[str, list[str]] = {}
  for test_file in sorted(REFERENCE_DIR.glob("*_test.py")):
    tree = ast.parse(test_file.read_text(), filename=str(test_file))
    for node in tree.body:
      targets = node.targets if isinstance(node, ast.Assign) else (
          [node.target] if isinstance(node, ast.AnnAssign) else [])
      if any(isinstance(t, ast.Name) and t.id == "COVERS" for t in targets) and node.value:
        for path in ast.literal_eval(node.value):
          covered.setdefault(path, []).append(test_file.name)
  return covered
