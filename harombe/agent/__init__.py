"""Layer 4: the agent — a tool-calling loop over routed model calls, tools, conversations."""
