"""Dataset location and input-pipeline pieces shared by workloads."""
