"""Baseline training algorithms."""
