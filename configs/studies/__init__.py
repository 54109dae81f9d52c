"""Declarative study configs: what a multi-run command runs, as data (`get_config()`)."""
