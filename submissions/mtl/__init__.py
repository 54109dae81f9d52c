"""Multi-task training algorithms: gradient aggregators and SAM-MTL (multi-task workloads only)."""
