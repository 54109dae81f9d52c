"""Tuning search spaces and quasi-random (scrambled Halton) trial sampling."""
