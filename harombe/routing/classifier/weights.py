"""The classifier's weights: one per feature, and the two cut points of the score.

Written by `python -m harombe.routing.classifier.train --write` from dev.jsonl; do not
edit by hand. A positive weight pushes towards a higher tier. Features: `features.py`.
"""

WEIGHTS = {
    # log2(1 + words of the instruction's sentences that ask) / 4
    "asking_words": 2.719,
    # log2(1 + words of its other sentences: background, chatter) / 4
    "context_words": 1.254,
    # log2(1 + earlier turns of the conversation) / 2
    "history_turns": -0.154,
    # several inputs named: 'ten papers', 'these reports', 'all modules'
    "many_documents": 0.285,
    # a word of the 'design' family
    "asks_design": 1.095,
    # a word of the 'prove' family
    "asks_prove": 1.182,
    # a word of the 'synthesise' family
    "asks_synthesise": 0.604,
    # a word of the 'plan' family
    "asks_plan": 0.690,
    # a word of the 'scale' family
    "asks_scale": 2.001,
    # a word of the 'assumptions' family
    "asks_assumptions": 1.178,
    # a word of the 'compare' family
    "asks_compare": 0.349,
    # a word of the 'write' family
    "asks_write": -0.760,
    # a word of the 'code_deliverable' family
    "asks_code_deliverable": -0.461,
    # a word of the 'analyse' family
    "asks_analyse": -0.357,
    # a word of the 'debug' family
    "asks_debug": -0.159,
    # a word of the 'explain' family
    "asks_explain": -0.756,
    # a word of the 'depth' family
    "asks_depth": 0.761,
    # a word of the 'transform' family
    "asks_transform": -0.973,
    # a word of the 'enumerate' family
    "asks_enumerate": -0.146,
    # a word of the 'meaning' family
    "asks_meaning": -0.880,
    # a word of the 'greeting' family
    "asks_greeting": -0.997,
    # distinct task families asked for (write, analyse, compare, prove ...)
    "task_breadth": 1.426,
    # a word of a family the rubric puts in tier 2 (prove, design, synthesise ...)
    "hard_task": 2.750,
    # a tier-2 family asked in at most 20 words
    "short_hard_task": 1.497,
    # log2(1 + pasted words) / 4 (at most 3) when a piece of work is asked
    "work_on_payload": -1.103,
    # a piece of work asked of 60 or more pasted words
    "pasted_task": -0.161,
    # log2(1 + list lines and comma-separated items in the instruction) / 3
    "listed_items": 1.369,
    # constraint words (must, without, at most, budget ...), at most 6, / 3
    "constraints": 0.983,
    # multi-part markers (and then, also, finally ...), at most 3, / 2
    "sequence": 0.893,
    # question marks in the instruction, at most 3, / 2
    "questions": -0.288,
    # a fenced code block is present
    "code_block": 0.246,
    # log2(1 + code lines) / 4
    "code_lines": 0.233,
    # maths symbols and variables, at most 4, / 2
    "math_notation": 1.101,
    # maths terms (integer, prime, such that ...), at most 4, / 2
    "math_terms": 1.456,
    # a setup with 3 or more quantities closed by a question, no code
    "word_problem": 0.108,
    # the closing sentence opens with a question word (what, who, when ...)
    "wh_question": -0.266,
    # a short wh- or yes/no closing question asking for no piece of work
    "lookup_question": -2.166,
    # a lookup question over 60 or more words of payload
    "pasted_lookup": -0.558,
    # the instruction is not in English
    "non_english": 0.047,
}
MEDIUM_AT = 2.281  # task score from which a request is tier 1
COMPLEX_AT = 7.287  # ... and tier 2
