"""SAM and ASAM on quadratics solved by hand; the perturbation under 8 fake devices."""

from __future__ import annotations

import json
import os
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from algoperf_lab import spec
from submissions.lib import asam, sam
from tests.helpers import REPO_ROOT, SMALL_LM_OVERRIDES

H = jnp.asarray([1.0, 3.0])  # L(w) = ½ Σ h_i w_i², ∇L = h ⊙ w


def _loss(w: jax.Array) -> jax.Array:
  return 0.5 * jnp.sum(H * w ** 2)


def _sam_step(tx: optax.GradientTransformation, w: jax.Array) -> tuple[np.ndarray, sam.SamState]:
  value, grads = jax.value_and_grad(_loss)(w)
  direction, state = tx.update(grads, tx.init(w), w, value=value, value_fn=_loss)
  return np.asarray(direction), state


def test_sam_steps_along_the_gradient_at_the_perturbed_point():
  w, rho = jnp.asarray([1.0, 1.0]), 0.1
  # g = (1, 3), ε = ρ g / √10, ∇L(w + ε) = h ⊙ (w + ε).
  epsilon = rho * np.array([1.0, 3.0]) / np.sqrt(10.0)
  direction, state = _sam_step(sam.sam_gradient(rho), w)
  np.testing.assert_allclose(direction, np.array([1.0, 3.0]) * (1.0 + epsilon), rtol=1e-6)
  assert float(state.perturbation_norm) == pytest.approx(rho, rel=1e-6)
  sharpness = 0.5 * np.sum(np.array([1.0, 3.0]) * ((1 + epsilon) ** 2 - 1))
  assert float(state.sharpness) == pytest.approx(sharpness, rel=1e-5)


def test_rho_zero_is_the_plain_gradient():
  direction, state = _sam_step(sam.sam_gradient(0.0), jnp.asarray([1.0, -2.0]))
  np.testing.assert_allclose(direction, [1.0, -6.0])
  assert float(state.sharpness) == 0.0


def test_asam_scales_the_perturbation_by_the_weights():
  w, rho = jnp.asarray([1.0, 2.0]), 0.1
  # g = (1, 6); with η = 0, T_w g = (1, 12), ε = ρ T_w² g / ‖T_w g‖ = ρ (1, 24) / √145.
  epsilon = asam.asam_perturbation(jax.grad(_loss)(w), w, rho, eta=0.0)
  np.testing.assert_allclose(np.asarray(epsilon), rho * np.array([1.0, 24.0]) / np.sqrt(145.0),
                             rtol=1e-6)


def test_asam_perturbation_is_scale_invariant():
  # Rescaling w_i by a_i and the loss's curvature by 1/a_i² leaves the loss unchanged; ASAM's
  # ε_i / w_i (the relative perturbation) and the sharpness it measures do not change.
  w, a = jnp.asarray([1.0, 2.0]), jnp.asarray([10.0, 0.1])
  g = jax.grad(_loss)(w)
  relative = asam.asam_perturbation(g, w, 0.1, eta=0.0) / w
  rescaled_w = a * w
  rescaled_g = jax.grad(lambda v: _loss(v / a))(rescaled_w)
  rescaled_relative = asam.asam_perturbation(rescaled_g, rescaled_w, 0.1, eta=0.0) / rescaled_w
  np.testing.assert_allclose(np.asarray(relative), np.asarray(rescaled_relative), rtol=1e-5)


def test_sam_needs_the_step_extras():
  tx = sam.sam_gradient(0.05)
  w = jnp.ones(2)
  with pytest.raises(ValueError, match="value_fn"):
    tx.update(w, tx.init(w), w)


@pytest.mark.slow
def test_replicated_on_eight_devices_perturbs_with_the_global_batch_gradient(tmp_path):
  """One jit over the global batch: 8 data-parallel devices give the 1-device SAM step, so ε
  comes from the global-batch gradient (m-sharpness would differ from 1 device)."""
  cli = str(REPO_ROOT / ".venv" / "bin" / "algoperf-lab")

  def history(devices: int) -> list[dict]:
    workdir = tmp_path / f"d{devices}"
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    done = subprocess.run([cli, "run", "--workload=lm", "--submission=submissions/sam/sam.py",
                           f"--workdir={workdir}", "--max_steps=2", "--eval_every_steps=2",
                           "--sharding=replicated", "--no_progress", "--no_checkpoints",
                           *SMALL_LM_OVERRIDES], env=env, capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]

  one, eight = history(1)[-1], history(8)[-1]
  for key in ("train_step/sharpness", "train_step/perturbation_norm", "validation/loss"):
    assert eight[key] == pytest.approx(one[key], rel=1e-3, abs=1e-6), key


def test_asam_leaves_biases_out_of_t_w():
  # g_w = (1, 6) at w = (1, 2), g_b = 3 at b = 2; with η = 0 only w is scaled:
  # T g = ((1, 12), 3), ‖T g‖ = √154, ε = ρ ((1, 24), 3) / √154.
  params = {"w": jnp.asarray([[1.0, 2.0]]), "b": jnp.asarray([2.0])}
  grads = {"w": jnp.asarray([[1.0, 6.0]]), "b": jnp.asarray([3.0])}
  types = {"w": spec.ParameterType.WEIGHT, "b": spec.ParameterType.BIAS}
  epsilon = asam.make_asam_perturbation(0.0, types)(grads, params, 0.1)
  np.testing.assert_allclose(np.asarray(epsilon["w"]), 0.1 * np.array([[1.0, 24.0]]) / np.sqrt(154),
                             rtol=1e-6)
  np.testing.assert_allclose(np.asarray(epsilon["b"]), 0.1 * np.array([3.0]) / np.sqrt(154),
                             rtol=1e-6)
