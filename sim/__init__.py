"""`python -m sim`: many real harombe peers on virtual time, under injected failures."""
