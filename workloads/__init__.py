"""The lab's workloads, one folder per family; registered through entry points in pyproject."""
