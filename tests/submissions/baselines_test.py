"""Classic and modern baselines against their papers' update rules, and on the tiny LM.

Each expected value is worked out by hand from the paper's update rule (the arithmetic is in
the comments); the submissions' schedules are made constant by a huge `step_hint` and no
warmup, so their first steps take the peak learning rate.
"""

from __future__ import annotations

import dataclasses
import json
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from algoperf_lab import cli, hyperparameters, spec
from submissions.baselines import ema, lion, nesterov, sgd_momentum
from submissions.lib import averaging, param_labels
from submissions.matrix import muon
from tests.helpers import SMALL_LM_OVERRIDES

SUBMISSIONS = {"sgd_momentum": sgd_momentum, "nesterov": nesterov, "lion": lion, "ema": ema,
               "muon": muon}
CONSTANT_LR_STEP_HINT = 10**9  # cosine decay over a billion steps: constant for a few steps


@dataclasses.dataclass
class FakeWorkload:
  """What make_optimizer reads: the step hint and, for Muon, parameter types and shapes."""

  params: dict = dataclasses.field(default_factory=dict)
  step_hint: int = CONSTANT_LR_STEP_HINT
  output_key: str = "head"

  @property
  def model_params_types(self) -> spec.ParameterTypeTree:
    return jax.tree.map(lambda t_and_x: t_and_x[0], self.params, is_leaf=_is_typed)

  @property
  def param_shapes(self) -> spec.ParameterShapeTree:
    return jax.tree.map(lambda t_and_x: spec.ShapeTuple(t_and_x[1].shape), self.params,
                        is_leaf=_is_typed)

  def values(self) -> dict:
    return jax.tree.map(lambda t_and_x: t_and_x[1], self.params, is_leaf=_is_typed)

  def is_output_params(self, param_key: str) -> bool:
    return param_key == self.output_key


def _is_typed(node: object) -> bool:
  return isinstance(node, tuple) and len(node) == 2 and isinstance(node[0], spec.ParameterType)


def _optimizer(module: ModuleType, workload: FakeWorkload | None = None,
               **overrides: float) -> optax.GradientTransformation:
  hparams = hyperparameters.make_hyperparameters(module.HPARAMS,
                                                 {"warmup_factor": 0.0, **overrides},
                                                 module.__name__)
  return module.make_optimizer(hparams, workload or FakeWorkload())


def _run(optimizer: optax.GradientTransformation, params: jax.Array,
         grads: list[jax.Array]) -> list[jax.Array]:
  """The parameters after each step, for gradients given in advance."""
  state, iterates = optimizer.init(params), []
  for grad in grads:
    updates, state = optimizer.update(grad, state, params)
    params = optax.apply_updates(params, updates)
    iterates.append(params)
  return iterates


def _descend(optimizer: optax.GradientTransformation, x: float, curvature: float,
             steps: int) -> list[float]:
  """Iterates on f(x) = curvature * x² / 2, whose gradient is curvature * x."""
  params, state, iterates = jnp.array(x), optimizer.init(jnp.array(x)), []
  for _ in range(steps):
    updates, state = optimizer.update(curvature * params, state, params)
    params = optax.apply_updates(params, updates)
    iterates.append(float(params))
  return iterates


# -- SGD with momentum -----------------------------------------------------------------------

def test_heavy_ball_two_steps_on_a_quadratic():
  # Polyak 1964: x_{t+1} = x_t − η f'(x_t) + μ (x_t − x_{t−1}), x_{−1} = x_0 = 1,
  # f'(x) = 2x, η = 0.1, μ = 0.9:
  #   x_1 = 1 − 0.1·2 + 0 = 0.8
  #   x_2 = 0.8 − 0.1·1.6 + 0.9·(0.8 − 1) = 0.8 − 0.16 − 0.18 = 0.46
  optimizer = _optimizer(sgd_momentum, learning_rate=0.1, one_minus_beta1=0.1, weight_decay=0.0)
  np.testing.assert_allclose(_descend(optimizer, 1.0, 2.0, 2), [0.8, 0.46], rtol=1e-6)


def test_nesterov_follows_the_look_ahead_form():
  # Sutskever et al. 2013, eq. 3–4: v_{t+1} = μ v_t − η f'(θ_t + μ v_t), θ_{t+1} = θ_t + v_{t+1}.
  # The optimizer's parameters are the look-ahead points Θ_t = θ_t + μ v_t. With θ_0 = 1,
  # v_0 = 0, f'(x) = 2x, η = 0.1, μ = 0.9:
  #   v_1 = −0.1·2·1 = −0.2,  θ_1 = 0.8,  Θ_1 = 0.8 − 0.9·0.2 = 0.62
  #   v_2 = 0.9·(−0.2) − 0.1·2·0.62 = −0.304,  θ_2 = 0.496,  Θ_2 = 0.496 − 0.9·0.304 = 0.2224
  optimizer = _optimizer(nesterov, learning_rate=0.1, one_minus_beta1=0.1, weight_decay=0.0)
  np.testing.assert_allclose(_descend(optimizer, 1.0, 2.0, 2), [0.62, 0.2224], rtol=1e-6)


def test_momentum_weight_decay_is_added_to_the_gradient():
  # One step with zero loss gradient: g = λ x_0 = 0.5 · 2, x_1 = 2 − 0.1 · 1 = 1.9.
  optimizer = _optimizer(sgd_momentum, learning_rate=0.1, weight_decay=0.5)
  np.testing.assert_allclose(_descend(optimizer, 2.0, 0.0, 1), [1.9], rtol=1e-6)


# -- Lion --------------------------------------------------------------------------------------

def test_lion_sign_update_with_its_two_betas():
  # Chen et al. 2023, Algorithm 2, η = 0.1, λ = 0.5, β1 = 0.9, β2 = 0.99, m_0 = 0:
  #   c_t = β1 m_{t−1} + (1−β1) g_t;  θ_t = θ_{t−1} − η (sign(c_t) + λ θ_{t−1});
  #   m_t = β2 m_{t−1} + (1−β2) g_t.
  # θ_0 = (1, −2), g_1 = (0.5, −0.1): c_1 = (0.05, −0.01), sign (1, −1),
  #   θ_1 = (1 − 0.1·1.5, −2 − 0.1·(−2)) = (0.85, −1.8),  m_1 = (0.005, −0.001).
  # g_2 = (−0.03, 0.05): c_2 = (0.0045 − 0.003, −0.0009 + 0.005), sign (1, 1) — the first
  #   coordinate follows the momentum, not g_2;
  #   θ_2 = (0.85 − 0.1·1.425, −1.8 − 0.1·0.1) = (0.7075, −1.81),
  #   m_2 = (0.00495 − 0.0003, −0.00099 + 0.0005) = (0.00465, −0.00049).
  # g_3 = (−0.05, 0): c_3 = (0.004185 − 0.005, −0.000441), sign (−1, −1) — with β2 = β1 the
  #   second coordinate would be +1, so this step sees β2;
  #   θ_3 = (0.7075 − 0.1·(−0.64625), −1.81 − 0.1·(−1.905)) = (0.772125, −1.6195).
  optimizer = _optimizer(lion, learning_rate=0.1, weight_decay=0.5, b1=0.9, b2=0.99)
  grads = [jnp.array([0.5, -0.1]), jnp.array([-0.03, 0.05]), jnp.array([-0.05, 0.0])]
  iterates = _run(optimizer, jnp.array([1.0, -2.0]), grads)
  np.testing.assert_allclose(np.stack(iterates),
                             [[0.85, -1.8], [0.7075, -1.81], [0.772125, -1.6195]], rtol=1e-5)


# -- EMA and LAWA ------------------------------------------------------------------------------

def _unit_sgd_iterates(wrapper: optax.GradientTransformation, steps: int) -> tuple[list, list]:
  """x_t = t·(1, 1, 1) by SGD with η = 1 on gradients −1; the state after each step."""
  params = jnp.zeros(3)
  state, states, iterates = wrapper.init(params), [], []
  for _ in range(steps):
    updates, state = wrapper.update(-jnp.ones(3), state, params)
    params = optax.apply_updates(params, updates)
    states.append(state)
    iterates.append(params)
  return states, iterates


def test_ema_average_after_three_steps():
  # Iterates x_1, x_2, x_3 = 1, 3, 6 (gradients −1, −2, −3 with η = 1), β = 0.5:
  #   Σ (1−β) β^{3−s} x_s / (1 − β³) = (0.125·1 + 0.25·3 + 0.5·6) / 0.875 = 3.875 / 0.875 = 31/7.
  optimizer = averaging.ema(optax.sgd(1.0), decay=0.5)
  params = jnp.zeros(2)
  state = optimizer.init(params)
  np.testing.assert_array_equal(averaging.averaged_params(state, params), params)
  for step, grad in enumerate([-1.0, -2.0, -3.0], start=1):
    updates, state = optimizer.update(jnp.full(2, grad), state, params)
    params = optax.apply_updates(params, updates)
    if step == 1:  # debiased: the first average is the first iterate
      np.testing.assert_allclose(averaging.averaged_params(state, params), [1.0, 1.0])
  np.testing.assert_allclose(params, [6.0, 6.0])
  np.testing.assert_allclose(averaging.averaged_params(state, params), [31 / 7] * 2, rtol=1e-6)


def test_lawa_mean_of_the_last_k_snapshots():
  # x_t = t; k = 2 snapshots, one every m = 2 steps: x_2, x_4, x_6 are taken.
  states, iterates = _unit_sgd_iterates(averaging.lawa(optax.sgd(1.0), 2, 2), 6)
  assert jax.tree.leaves(states[0].snapshots)[0].shape == (2, 3)  # leading k axis
  expected = {1: 1.0,  # no snapshot yet: the current parameters
              3: 2.0,  # only x_2
              4: 3.0,  # (x_2 + x_4) / 2
              6: 5.0}  # x_2 dropped: (x_4 + x_6) / 2
  for step, value in expected.items():
    average = averaging.averaged_params(states[step - 1], iterates[step - 1])
    np.testing.assert_allclose(average, [value] * 3, err_msg=f"after step {step}")


def test_averaging_passes_the_base_updates_through_and_finds_its_state_when_nested():
  base = optax.adam(0.1)
  wrapped = optax.chain(optax.identity(), averaging.ema(base, 0.9))
  params, grad = jnp.array([1.0, -1.0]), jnp.array([0.3, 0.7])
  updates, state = wrapped.update(grad, wrapped.init(params), params)
  expected, _ = base.update(grad, base.init(params), params)
  np.testing.assert_allclose(updates, expected)
  np.testing.assert_allclose(averaging.averaged_params(state, params), params + expected)


def test_averaging_errors_name_the_fix():
  with pytest.raises(ValueError, match="wrap the optimizer"):
    averaging.averaged_params(optax.sgd(1.0).init(jnp.zeros(1)), jnp.zeros(1))
  with pytest.raises(ValueError, match="with the parameters"):
    wrapper = averaging.ema(optax.sgd(1.0), 0.9)
    wrapper.update(jnp.zeros(1), wrapper.init(jnp.zeros(1)))


# -- Muon --------------------------------------------------------------------------------------

def _muon_workload(rng: np.random.Generator) -> FakeWorkload:
  t = spec.ParameterType
  draw = lambda *shape: jnp.asarray(rng.normal(size=shape), jnp.float32)  # noqa: E731
  return FakeWorkload(params={
      "embed": {"embedding": (t.EMBEDDING, draw(16, 8))},
      "block": {"attention": {"query": {"kernel": (t.ATTENTION_Q, draw(8, 2, 4))},
                              "out": {"kernel": (t.ATTENTION_OUT, draw(2, 4, 8))}},
                "mlp": {"kernel": (t.WEIGHT, draw(8, 32))},
                "norm": {"scale": (t.LAYER_NORM_SCALE, draw(8))}},
      "head": {"kernel": (t.WEIGHT, draw(8, 5))}})


def test_hidden_matrices_route_only_hidden_weights_to_muon():
  workload = _muon_workload(np.random.default_rng(0))
  routes = param_labels.workload_hidden_matrices(workload)
  assert routes["embed"]["embedding"] is None and routes["head"]["kernel"] is None
  assert routes["block"]["norm"]["scale"] is None
  assert routes["block"]["mlp"]["kernel"] == (0, 1)
  assert routes["block"]["attention"]["query"]["kernel"] == (0, (1, 2))
  assert routes["block"]["attention"]["out"]["kernel"] == ((0, 1), 2)


def test_muon_orthogonalises_matrices_and_uses_adamw_for_the_rest():
  rng = np.random.default_rng(0)
  workload = _muon_workload(rng)
  params = workload.values()
  # A gradient for the MLP matrix with singular values 8, 4, 2, 1, 0.5, 0.25, 0.125, 0.0625.
  left, _ = np.linalg.qr(rng.normal(size=(8, 8)))
  right, _ = np.linalg.qr(rng.normal(size=(32, 8)))
  spread = left @ np.diag(2.0 ** np.arange(3, -5, -1)) @ right.T
  grads = jax.tree.map(lambda x: jnp.asarray(rng.normal(size=x.shape), jnp.float32), params)
  grads["block"]["mlp"]["kernel"] = jnp.asarray(spread, jnp.float32)
  lr, adam_lr = 0.02, 0.003
  optimizer = _optimizer(muon, workload, learning_rate=lr, adam_learning_rate=adam_lr,
                         weight_decay=0.0, adam_weight_decay=0.0)
  updates, _ = optimizer.update(grads, optimizer.init(params), params)

  # Muon: −lr · sqrt(max(1, fan_out / fan_in)) · (nearly) the orthogonal polar factor of the
  # Nesterov momentum, which at the first step is (1 − β²) times the gradient (the authors'
  # code does not debias it; Newton-Schulz normalises the scale away); Newton-Schulz leaves
  # singular values within about [0.6, 1.2] (Jordan et al. 2024), where the gradient's spread
  # over 128×.
  mlp = np.asarray(updates["block"]["mlp"]["kernel"]) / (-lr * np.sqrt(32 / 8))
  singular_values = np.linalg.svd(mlp, compute_uv=False)
  assert singular_values.min() > 0.5 and singular_values.max() < 1.5, singular_values
  for name in ("query", "out"):  # (8, 2, 4) and (2, 4, 8) kernels: 8 × 8 matrices
    kernel = np.asarray(updates["block"]["attention"][name]["kernel"]).reshape(8, 8) / -lr
    singular_values = np.linalg.svd(kernel, compute_uv=False)
    assert singular_values.min() > 0.5 and singular_values.max() < 1.5, (name, singular_values)

  # AdamW (Loshchilov & Hutter 2019), first step: m̂ = g and v̂ = g², so every coordinate moves
  # by ±lr (plain AdamW, as the AdamW baseline; not optax.contrib.muon's NAdamW branch, whose
  # first step is ±lr·(1 + 2β1)/(1 + β1)).
  first_step = adam_lr
  for adam_leaf in (updates["embed"]["embedding"], updates["head"]["kernel"],
                    updates["block"]["norm"]["scale"]):
    np.testing.assert_allclose(np.abs(adam_leaf), first_step, rtol=1e-4)


# -- every submission (listing, search spaces, toy problem: tests/submissions/conformance_test.py)

@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_submission_trains_two_steps_on_the_tiny_lm(tmp_path, name):
  workdir = tmp_path / name
  submission = SUBMISSIONS[name].__file__
  assert cli.main(["run", "--workload=lm", "--size=tiny", f"--submission={submission}",
                   f"--workdir={workdir}", "--max_steps=2", "--eval_every_steps=2",
                   "--no_progress", *SMALL_LM_OVERRIDES]) == 0
  record = json.loads((workdir / "result.json").read_text())
  assert record["steps"] == 2 and record["status"] == "capped"
  (line,) = [json.loads(text) for text in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert np.isfinite(line["validation/bits_per_byte"]) and np.isfinite(line["train_step/loss"])
