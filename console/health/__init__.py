"""Health checks of the stack, with monitoring-plugin states (no Textual)."""
