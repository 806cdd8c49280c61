"""Tasks used only by the benchmarks (enabled with RPA_TASK_PACKAGES)."""
