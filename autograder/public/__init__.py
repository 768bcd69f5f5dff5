"""Public self-check tests, shipped to students: stored expected values and properties only."""
