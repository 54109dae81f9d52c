"""algoperf_lab: a JAX-native lab for benchmarking neural network training algorithms."""

__version__ = "0.1.0"
