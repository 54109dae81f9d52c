"""AlgoPerf-style scoring: time-to-target, performance profiles, benchmark scores, reports."""

from algoperf_lab.scoring.records import MixedHardwareError, ScoringError
from algoperf_lab.scoring.report import ScoreReport, format_score_table, score_directories

__all__ = ["MixedHardwareError", "ScoreReport", "ScoringError", "format_score_table",
           "score_directories"]
