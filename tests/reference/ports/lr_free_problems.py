"""The float64 toy problems the LR-free reference tests (Schedule-Free, MoMo, DoG, DoWG, COCOB;
Prodigy, D-Adapt AdamW, Mechanic) run on, with the loss in JAX for the lab's optimizer and its
value and gradient in numpy for the ports.

- `quadratic()`: an 8-D ill-conditioned quadratic ½ Σ aᵢ(xᵢ − cᵢ)², aᵢ from 1 to 100
  (condition number 100), minimum 0 at c, started away from it.
- `least_squares()`: ½ mean_n ‖W xₙ + b − yₙ‖² with a weight matrix W [3, 5] and a bias b [3],
  16 samples with columns scaled over a decade, targets from a planted (W, b) plus noise.
- `least_squares_3x4()`: ½ mean_n ‖W xₙ + b − yₙ‖² with W [3, 4] and b [3], 16 samples with
  columns scaled 1, 0.3, 3, 0.1 (ill-conditioned), unplanted normal targets; the Prodigy,
  D-Adapt AdamW and Mechanic tests' problem (not in `PROBLEMS`).

`run_with_multipliers` drives a port whose `step(grads, lr)` takes the gradient at its own
`params` and the step's multiplier, as a PyTorch scheduler sets the group's lr.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

Params = dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Problem:
  name: str
  params: Params  # the starting point, float64
  loss: Callable[[Any], Any]  # JAX: params -> scalar (call it under float64())
  value_and_grad: Callable[[Params], tuple[float, Params]]  # numpy, for the ports


def quadratic() -> Problem:
  curvature = np.logspace(0.0, 2.0, 8)
  centre = np.linspace(-1.0, 1.0, 8)
  start = {"x": np.array([1.5, -0.5, 2.0, 0.3, -1.2, 0.8, 1.1, -2.0])}

  def loss(p: Any) -> Any:
    return 0.5 * jnp.sum(jnp.asarray(curvature) * (p["x"] - jnp.asarray(centre)) ** 2)

  def value_and_grad(p: Params) -> tuple[float, Params]:
    r = p["x"] - centre
    return float(0.5 * np.sum(curvature * r ** 2)), {"x": curvature * r}

  return Problem("quadratic", start, loss, value_and_grad)


def least_squares() -> Problem:
  rng = np.random.default_rng(0)
  inputs = rng.normal(size=(16, 5)) * np.logspace(0.0, 1.0, 5)
  w_true, b_true = rng.normal(size=(3, 5)), rng.normal(size=3)
  targets = inputs @ w_true.T + b_true + 0.1 * rng.normal(size=(16, 3))
  start = {"w": 0.1 * rng.normal(size=(3, 5)), "b": np.full(3, 0.5)}

  def loss(p: Any) -> Any:
    residual = jnp.asarray(inputs) @ p["w"].T + p["b"][None, :] - jnp.asarray(targets)
    return 0.5 * jnp.mean(jnp.sum(residual ** 2, axis=1))

  def value_and_grad(p: Params) -> tuple[float, Params]:
    residual = inputs @ p["w"].T + p["b"] - targets
    n = inputs.shape[0]
    return (float(0.5 * np.mean(np.sum(residual ** 2, axis=1))),
            {"w": residual.T @ inputs / n, "b": residual.sum(axis=0) / n})

  return Problem("least_squares", start, loss, value_and_grad)


def least_squares_3x4() -> Problem:
  rng = np.random.default_rng(0)
  features = rng.normal(size=(16, 4)) * np.array([1.0, 0.3, 3.0, 0.1])  # ill-conditioned
  targets = rng.normal(size=(16, 3))
  start = {"w": 0.5 * rng.normal(size=(3, 4)), "b": np.zeros(3)}

  def loss(p: Any) -> Any:
    residual = jnp.asarray(features) @ p["w"].T + p["b"][None, :] - jnp.asarray(targets)
    return 0.5 * jnp.mean(jnp.sum(residual ** 2, axis=1))

  def value_and_grad(p: Params) -> tuple[float, Params]:
    residual = features @ p["w"].T + p["b"] - targets
    return (float(0.5 * np.mean(np.sum(residual ** 2, axis=1))),
            {"w": residual.T @ features / len(features), "b": residual.mean(axis=0)})

  return Problem("least_squares_3x4", start, loss, value_and_grad)


def run_with_multipliers(port: Any, problem: Problem, multiplier: Callable[[int], float],
                         steps: int) -> list[Params]:
  """The iterates (copies) of `steps` calls `port.step(∇ at port.params, multiplier(t))`."""
  iterates = []
  for t in range(steps):
    params = port.step(problem.value_and_grad(port.params)[1], multiplier(t))
    iterates.append({k: v.copy() for k, v in params.items()})
  return iterates


PROBLEMS = (quadratic, least_squares)
