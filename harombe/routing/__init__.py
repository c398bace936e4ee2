from harombe.routing.classifier import classify, explain

__all__ = ["classify", "explain"]
