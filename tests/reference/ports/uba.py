"""UBA's learning rate, from the paper's equation (the authors have published no code).

Tang, Dong, Zeng, Zhou & Lin, *Stepsize anything: A unified learning rate schedule for
budgeted-iteration training* (NeurIPS 2025, arXiv:2505.24452), the single-stage UBA schedule:
with T the iteration budget of the stage, phi > 0 its one hyperparameter and
c_t = 1 + cos(pi t / T),
  eta_t = eta_min + (eta_max - eta_min) * 2 c_t / (2 phi + (2 - phi) c_t),
phi = 2 giving cosine annealing. Only the abstract and first page of the paper were readable
from here (its closed form was not); the expression is the one an independent public
implementation of the paper writes (a `UBAScheduler` found by code search, also with this
eta_min term), and it has the properties the abstract and the lab's unit tests state: eta_max
at t = 0, eta_min at t = T, cosine at phi = 2. This port therefore checks the lab against that
formula written independently in float64, not against the authors.
"""

from __future__ import annotations

import math


def uba_learning_rate(step: int, num_steps: int, phi: float, eta_max: float,
                      eta_min: float = 0.0) -> float:
  progress = min(step / num_steps, 1.0)
  one_plus_cos = 1 + math.cos(progress * math.pi)
  return (eta_max - eta_min) * (2 * one_plus_cos) / (2 * phi + (2 - phi) * one_plus_cos) + eta_min
