"""The LR-free family: each optax piece against its paper's update rule, written out by hand
for two steps on a 2-D quadratic f(x) = ½ Σ a_i x_i²; then every submission on every workload."""

from __future__ import annotations

import json
import math
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from algoperf_lab import cli
from submissions.lib import dadapt_adam as dadapt_lib, mechanic as mechanic_lib
from submissions.lib import prodigy as prodigy_lib
from submissions.lib import schedule_free as schedule_free_lib
from submissions.lib import schedule_free_prodigy as sf_prodigy_lib
from submissions.lr_free import cocob, dog, dowg, mechanic, momo, schedule_free_prodigy
from tests.helpers import REPO_ROOT, SMALL_LM_OVERRIDES

A = np.array([1.0, 3.0])
X0 = np.array([1.0, -2.0])


def loss(x):
  return 0.5 * jnp.sum(jnp.asarray(A, jnp.float32) * x ** 2)


def optax_steps(tx: optax.GradientTransformation, steps: int = 2,
                x0: np.ndarray = X0) -> list[np.ndarray]:
  tx = optax.with_extra_args_support(tx)
  x = jnp.asarray(x0, jnp.float32)
  state = tx.init(x)
  path = []
  for _ in range(steps):
    value, grad = jax.value_and_grad(loss)(x)
    updates, state = tx.update(grad, state, x, value=value)
    x = optax.apply_updates(x, updates)
    path.append(np.asarray(x))
  return path


def close(path, expected):
  for got, want in zip(path, expected, strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("bias_correction", [False, True])  # the authors' default, optax's
def test_prodigy_follows_the_paper(bias_correction):
  b1, b2, d, eps, lr = 0.9, 0.999, 1e-6, 1e-8, 1.0
  d0, b3 = d, b2 ** 0.5
  x, m, v, r, s, path = X0.copy(), 0 * X0, 0 * X0, 0.0, 0 * X0, []
  for k in range(1, 3):
    g = A * x
    gamma = lr * (math.sqrt(1 - b2 ** k) / (1 - b1 ** k) if bias_correction else 1.0)
    m = b1 * m + (1 - b1) * d * g
    v = b2 * v + (1 - b2) * d ** 2 * g ** 2
    r = b3 * r + gamma * d ** 2 / d0 * g @ (X0 - x)
    s = b3 * s + gamma * d ** 2 / d0 * g
    step_size = gamma * d
    d = max(d, r / np.abs(s).sum())
    x = x - step_size * m / (np.sqrt(v) + d * eps)  # ε scaled by the new d, as the authors do
    path.append(x)
  close(optax_steps(prodigy_lib.scale_by_prodigy(1.0, use_bias_correction=bias_correction)),
        path)
  if bias_correction:  # optax's prodigy is this form
    close(optax_steps(optax.contrib.prodigy(1.0, betas=(b1, b2))), path)


@pytest.mark.parametrize("bias_correction", [False, True])  # the authors' default, optax's
def test_dadapt_adamw_follows_the_paper(bias_correction):
  b1, b2, d, eps = 0.9, 0.999, 1e-6, 1e-8
  sb2 = b2 ** 0.5
  x, m, v, r, s, path = X0.copy(), 0 * X0, 0 * X0, 0.0, 0 * X0, []
  for k in range(1, 3):
    g = A * x
    gamma = math.sqrt(1 - b2 ** k) / (1 - b1 ** k) if bias_correction else 1.0
    dlr = d * gamma
    r = sb2 * r + (1 - sb2) * dlr * g @ (s / (np.sqrt(v) + eps))  # v before this step
    m = b1 * m + (1 - b1) * dlr * g
    v = b2 * v + (1 - b2) * g ** 2
    s = sb2 * s + (1 - sb2) * dlr * g
    d = max(d, r / ((1 - sb2) * np.abs(s).sum()))
    x = x - m / (np.sqrt(v) + eps)
    path.append(x)
  close(optax_steps(dadapt_lib.scale_by_dadapt_adam(1.0, use_bias_correction=bias_correction)),
        path)
  if bias_correction:  # optax's dadapt_adamw is this form
    close(optax_steps(optax.contrib.dadapt_adamw(1.0, betas=(b1, b2))), path)


def test_dog_follows_the_paper():
  alpha, eps = 1e-6, 1e-8
  x, r_bar, G, path = X0.copy(), alpha * (1 + np.linalg.norm(X0)), 0.0, []
  for _ in range(2):
    g = A * x
    r_bar = max(r_bar, np.linalg.norm(x - X0))
    G += g @ g
    x = x - r_bar / math.sqrt(G + eps) * g
    path.append(x)
  hparams = types.SimpleNamespace(reps_rel=alpha, weight_decay=0.0, avg_gamma=8.0)
  close(optax_steps(dog.make_optimizer(hparams, None)), path)


def test_dowg_follows_the_paper():
  eps = 1e-4
  x, r_sq, v, path = X0.copy(), 1e-4, 0.0, []
  for _ in range(2):
    g = A * x
    r_sq = max(r_sq, np.sum((x - X0) ** 2))
    v += r_sq * (g @ g)
    x = x - r_sq / (math.sqrt(v) + eps) * g
    path.append(x)
  hparams = types.SimpleNamespace(init_sq_dist=1e-4, weight_decay=0.0)
  close(optax_steps(dowg.make_optimizer(hparams, None)), path)


def test_cocob_follows_the_paper():
  alpha, eps = 100.0, 1e-8
  x, L, G, reward, theta, path = X0.copy(), eps + 0 * X0, 0 * X0, 0 * X0, 0 * X0, []
  for _ in range(2):
    g = A * x
    L = np.maximum(L, np.abs(g))
    G = G + np.abs(g)
    reward = np.maximum(reward - g * (x - X0), 0)
    theta = theta - g
    x = X0 + theta / (L * np.maximum(G + L, alpha * L)) * (L + reward)
    path.append(x)
  tx = cocob.make_optimizer(types.SimpleNamespace(alpha=alpha, weight_decay=0.0), None)
  close(optax_steps(tx), path)


def test_momo_follows_the_paper_and_logs_tau():
  beta, alpha = 0.9, 1.0
  x, d, fbar, gamma, path, taus = X0.copy(), 0 * X0, 0.0, 0.0, [], []
  for k in range(2):
    g, f = A * x, 0.5 * np.sum(A * x ** 2)
    rho = 0.0 if k == 0 else beta
    d = rho * d + (1 - rho) * g
    fbar = rho * fbar + (1 - rho) * f
    gamma = rho * gamma + (1 - rho) * g @ x
    tau = min(alpha, max(fbar - gamma + d @ x, 0.0) / (d @ d))
    x = x - tau * d
    path.append(x)
    taus.append(tau)
  hparams = types.SimpleNamespace(alpha=alpha, beta=beta, lower_bound=0.0, weight_decay=0.0)
  tx = optax.with_extra_args_support(momo.make_optimizer(hparams, None))
  close(optax_steps(tx), path)
  state, xj = tx.init(jnp.asarray(X0, jnp.float32)), jnp.asarray(X0, jnp.float32)
  value, grad = jax.value_and_grad(loss)(xj)
  _, state = tx.update(grad, state, xj, value=value)
  assert float(momo.train_metrics(state, xj)["tau"]) == pytest.approx(taus[0], rel=1e-5)


def test_schedule_free_adamw_follows_the_paper():
  lr, b1, b2, eps = 0.0025, 0.9, 0.999, 1e-8
  z, xs, v, weights, path = X0.copy(), X0.copy(), 0 * X0, 0.0, []
  for t in range(1, 3):
    y = (1 - b1) * z + b1 * xs
    g = A * y
    v = b2 * v + (1 - b2) * g ** 2
    z = z - lr * g / (np.sqrt(v / (1 - b2 ** t)) + eps)
    weights += lr ** 2
    c = lr ** 2 / weights
    xs = (1 - c) * xs + c * z
    path.append((1 - b1) * z + b1 * xs)
  close(optax_steps(schedule_free_lib.schedule_free_adamw(lr, b1=b1, b2=b2, eps=eps)), path)


def _mechanic_by_hand(steps: int) -> list[np.ndarray]:
  """The authors' PyTorch code (mechanic_pytorch `_step`) around plain SGD (u = −g): s from 0,
  the running max from 1e-6, λ = 0.01, six betas; the decay term reads x + u."""
  lam, s_init, eps, n = 0.01, 1e-8, 1e-8, 6
  betas = np.array([1 - 0.1 ** k for k in range(1, n + 1)])
  x, delta, r, m, v, s = X0.copy(), 0 * X0, np.zeros(n), np.full(n, 1e-6), np.zeros(n), np.zeros(n)
  path = []
  for _ in range(steps):
    g = A * x
    y = x - g
    h = delta @ (g + lam * np.linalg.norm(g) * s.sum() / (np.linalg.norm(y) + eps) * y)
    r = np.maximum(betas * r - s * h, 0)
    m = np.maximum(betas * m, abs(h))
    v = betas ** 2 * v + h ** 2
    s = (s_init / n * m + r) / (np.sqrt(v) + eps)
    delta = delta - g
    x = X0 + s.sum() * delta
    path.append(x)
  return path


def test_mechanic_follows_the_paper_and_trains_the_toy_quadratic():
  sgd = optax.sgd(1.0)
  ours = optax_steps(mechanic_lib.mechanize(sgd), steps=30)
  close(ours, _mechanic_by_hand(30))
  assert not np.allclose(ours[-1], X0)  # it moves
  params = {"w": jnp.full((4, 4), 2.0), "b": jnp.full((4,), -1.5)}
  target = {"w": jnp.eye(4), "b": jnp.zeros(4)}
  toy = lambda p: sum(jnp.sum((p[k] - target[k]) ** 2) for k in p)  # noqa: E731
  base = optax.adamw(1.0, weight_decay=0.0)

  def final_loss(tx):
    state, p = tx.init(params), params
    step = jax.jit(lambda p, s: (lambda u_s: (optax.apply_updates(p, u_s[0]), u_s[1]))(
        tx.update(jax.grad(toy)(p), s, p)))
    for _ in range(100):
      p, state = step(p, state)
    return float(toy(p))

  assert final_loss(mechanic_lib.mechanize(base)) < 0.9 * float(toy(params))


def test_schedule_free_prodigy_evaluates_at_the_average_and_logs_d():
  hparams = types.SimpleNamespace(**schedule_free_prodigy.HPARAMS)
  tx = schedule_free_prodigy.make_optimizer(hparams, types.SimpleNamespace(step_hint=40))
  x = jnp.asarray(X0, jnp.float32)
  state = tx.init(x)
  for _ in range(3):
    updates, state = tx.update(jax.grad(loss)(x), state, x)
    x = optax.apply_updates(x, updates)
  sf = state  # y = (1 − β)z + βx, so x = (y − (1 − β)z)/β
  evaluated = schedule_free_prodigy.eval_params(state, x)
  np.testing.assert_allclose(0.1 * sf.z + 0.9 * evaluated, x, rtol=1e-6)
  assert float(schedule_free_prodigy.train_metrics(state, x)["d"]) > hparams.d0
  assert float(loss(evaluated)) < float(loss(jnp.asarray(X0)))



def test_schedule_free_prodigy_weights_and_skipped_step():
  """Weights (k + 1)^r·(d·γ)_max^p (the authors': r 0.75, p 0; the paper's §3: r 0, p 2), and no
  move where ‖s‖₁ = 0, as the authors skip such a step."""
  x = jnp.asarray(X0, jnp.float32)
  for r, power in ((0.75, 0.0), (0.0, 2.0)):
    tx = sf_prodigy_lib.schedule_free_prodigy(sf_prodigy_lib.warmup_multiplier(0), r=r,
                                              weight_lr_power=power)
    state, p, ds = tx.init(x), x, []
    for _ in range(2):
      updates, state = tx.update(jax.grad(loss)(p), state, p)
      p = optax.apply_updates(p, updates)
      ds.append(float(state.d))
    expected = 1.0 + 2.0 ** 0.75 if power == 0.0 else ds[0] ** 2 + max(ds) ** 2
    assert float(state.weight_sum) == pytest.approx(expected, rel=1e-5)
  state = tx.init(x)
  updates, skipped = tx.update(jnp.zeros_like(x), state, x)
  assert not np.any(np.asarray(updates)) and int(skipped.count) == 0
  assert float(skipped.d) == float(state.d)

SUBMISSIONS = sorted(p.stem for p in (REPO_ROOT / "submissions" / "lr_free").glob("[!_]*.py"))
SMALL = {"lm": SMALL_LM_OVERRIDES}


@pytest.mark.slow
@pytest.mark.parametrize("workload", ["lm", "vit", "gnn"])
@pytest.mark.parametrize("name", SUBMISSIONS)
def test_two_steps_on_each_tiny_workload_log_the_step_size(name, workload, tmp_path):
  from tests.workloads.gnn_run_test import SMALL_GNN_RUN_OVERRIDES
  from tests.workloads.vit_model_test import SMALL_VIT_OVERRIDES

  overrides = {"lm": SMALL_LM_OVERRIDES, "gnn": SMALL_GNN_RUN_OVERRIDES,
               "vit": SMALL_VIT_OVERRIDES + ("--config.batch_size=16",)}[workload]
  path = REPO_ROOT / "submissions" / "lr_free" / f"{name}.py"
  assert cli.main(["run", f"--workload={workload}", f"--submission={path}",
                   f"--workdir={tmp_path}", "--max_steps=2", "--eval_every_steps=2",
                   "--no_progress", "--no_checkpoints", *overrides]) == 0
  result = json.loads((tmp_path / "result.json").read_text())
  assert result["status"] in ("capped", "reached", "diverged")
  last = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
  logged = [k for k in last if k.startswith("train_step/")]
  assert logged and all(math.isfinite(last[k]) for k in logged)
  assert result["status"] != "diverged"
