"""harombe: one LLM service across a mixed pile of your own machines."""

__version__ = "0.1.0"
