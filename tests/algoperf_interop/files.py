"""The third-party AlgoPerf files the interoperability tests use (see tests/third_party/)."""

from __future__ import annotations

from tests.helpers import REPO_ROOT

THIRD_PARTY = REPO_ROOT / "tests" / "third_party"
ALGOPERF = THIRD_PARTY / "algorithmic-efficiency" / "algorithms"
LEADERBOARDS = THIRD_PARTY / "submissions_algorithms" / "previous_leaderboards"
CURRENT = THIRD_PARTY / "submissions_algorithms" / "submissions"

# AlgoPerf's current JAX API (jax.jit + jax_sharding_utils), with no edit.
JIT_FILES = {
    "archived_adamw": ALGOPERF / "archived_paper_baselines/adamw/jax/submission.py",
    "archived_momentum": ALGOPERF / "archived_paper_baselines/momentum/jax/submission.py",
    "archived_nadamw": ALGOPERF / "archived_paper_baselines/nadamw/jax/submission.py",
    "archived_nesterov": ALGOPERF / "archived_paper_baselines/nesterov/jax/submission.py",
    "external_nadamw_full_budget": ALGOPERF / "baselines/external_tuning/jax_nadamw_full_budget.py",
    "current_nadamw": CURRENT / "self_tuning/nadamw/submission.py",
    "current_cautious_nadamw": CURRENT / "self_tuning/cautious_nadamw/submission.py",
    "current_muon": CURRENT / "self_tuning/muon/submission.py",
    "current_schedule_free_adamw_jax": CURRENT / "self_tuning/schedule_free_adamw_jax/submission.py",
}
# AlgoPerf v0.5's pmap API: the JAX entries of the v0.5 and v0.6 leaderboards.
PMAP_FILES = {
    "v05_self_baseline": LEADERBOARDS / "algoperf_v05/submissions/self_tuning/baseline/submission.py",
    "v05_external_baseline": LEADERBOARDS / "algoperf_v05/submissions/external_tuning/baseline/submission.py",
    "v05_nadamp": LEADERBOARDS / "algoperf_v05/submissions/external_tuning/nadamp/submission.py",
    "v05_generalized_adam": LEADERBOARDS / "algoperf_v05/submissions/external_tuning/generalized_adam/submission.py",
    "v05_amos": LEADERBOARDS / "algoperf_v05/submissions/external_tuning/amos/submission.py",
    "v05_caspr_adaptive": LEADERBOARDS / "algoperf_v05/submissions/external_tuning/caspr_adaptive/submission.py",
    "v06_self_baseline": LEADERBOARDS / "algoperf_v06/submissions/self_tuning/baseline/submission.py",
}
# Files that fail under any runner for bugs of their own (the lab must say so clearly).
BROKEN_FILES = {
    # Two files concatenated: a SyntaxError at line 468.
    "v05_nadamw_sequential": LEADERBOARDS / "algoperf_v05/submissions/self_tuning/nadamw_sequential/submission.py",
}
# pmap files whose jax.pmap in_axes has 9 entries for a 10-argument step (AlgoPerf's archive).
PMAP_IN_AXES_BUG = {
    "archived_sam": ALGOPERF / "archived_paper_baselines/sam/jax/submission.py",
    "archived_lamb": ALGOPERF / "archived_paper_baselines/lamb/jax/submission.py",
    "archived_adafactor": ALGOPERF / "archived_paper_baselines/adafactor/jax/submission.py",
    "archived_shampoo": ALGOPERF / "archived_paper_baselines/shampoo/jax/submission.py",
}
