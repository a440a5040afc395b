"""Trigger engine: fires positioned orders on trades, exactly once, and executes them."""
