"""Tasks used only by the tests (enabled with RPA_TASK_PACKAGES)."""
