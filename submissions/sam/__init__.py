"""Sharpness-aware training algorithms (SAM, ASAM)."""
