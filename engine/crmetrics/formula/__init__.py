"""Formula parsing and compilation."""
