"""Query-complexity classifier: which model tier (0 simple, 1 medium, 2 complex) a chat needs.

Rules follow the labelling rubric of `tests/data/routing/README.md`, in four parts:
`features` takes the chat apart (the task, its size and shape), `lexicon` and
`lexicon_complex` name the task signals, `matching` finds them fast, and `rules` combines them
into a tier. Deterministic, stdlib only; the cost is bounded for inputs of any size.
"""

from harombe.routing.classifier.rules import Classification, classify, explain

__all__ = ["Classification", "classify", "explain"]
