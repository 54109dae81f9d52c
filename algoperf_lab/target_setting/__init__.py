"""Targets, budgets and step hints set by AlgoPerf's rules from tuned baselines."""
