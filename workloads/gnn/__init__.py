"""Graph network on molecules: QM9 regression (tiny/small), ogbg-molpcba (full)."""
