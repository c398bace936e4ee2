"""Routing: which node answers a query (classifier, policy, balancer, breakers, dispatch)."""

from harombe.routing.classifier import classify, explain

__all__ = ["classify", "explain"]
