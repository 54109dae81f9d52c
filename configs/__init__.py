"""ml_collections configs: one file per workload family, `get_config(size)`."""
