"""Query-complexity classifier: which model tier (0 simple, 1 medium, 2 complex) a chat needs.

It follows the labelling rubric of `tests/data/routing/README.md`: `chat` takes the chat apart
(the instruction, the pasted payload, the conversation), `cues` holds the closed word lists of
the task families, `features` measures the task as named numbers, `wording` reads the
instruction's words, `weights` and `word_weights.json` (written by `train`) hold one weight per
feature, one per common word and two cut points, and `model` turns them into a tier with the
context rule on top. Deterministic, stdlib only; the cost is bounded for inputs of any
size.
"""

from harombe.routing.classifier.model import Classification, classify, explain

__all__ = ["Classification", "classify", "explain"]
