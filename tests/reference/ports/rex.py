"""REX's learning-rate profile, from the paper (no code by its authors is public).

Chen, Wolfe & Kyrillidis, *REX: Revisiting Budgeted Training with an Improved Schedule*
(MLSys 2022, arXiv:2107.04197): with z = t / T the fraction of the budget spent,
  eta_t = eta_0 * (1 - z) / (1/2 + (1 - z) / 2),
sampled every iteration. The paper's text was not readable from here; the expression is the one
`google/init2winit` `init2winit/projects/optlrschedule/scheduler/rex_schedule_family.py`
(commit 845640523aaac0de0d0965d29e3684615a28fde3) quotes as the paper's ("Original REX schedule
... (1 - progress) / ((1 - progress * beta)/2 + 1/2)", beta = 1 in the paper). The third-party
`IvanVassi/REX_LR` `lr_scheduler.py` (commit 1cc5007ef6de72abc6867e9a4656ab6399924d22), which
init2winit links as the code, uses z' / (0.1 + 0.9 z') with z' = 1 - z instead; it is not the
authors' repository, so the paper's profile is the reference here.
"""

from __future__ import annotations


def rex_multiplier(step: int, num_steps: int) -> float:
  """eta_t / eta_0 at `step` of `num_steps` (held at 0 from num_steps on)."""
  z = min(step / num_steps, 1.0)
  return (1 - z) / (0.5 + 0.5 * (1 - z))
