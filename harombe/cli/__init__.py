"""The command lines: `harombe` (what a person uses) and `harombed` (the daemon)."""
