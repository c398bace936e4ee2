"""How a question is phrased: patterns for the shape of the closing sentence.

A question word opening it (`WH_RE`, also after a clause or an opener), one embedded in a request
("tell me how many"), a yes/no question, a tag ("..., right?"), a choice, a sum to work out, a
short answer asked for, a thing named ("what is a ...?"), a request to the reader, narration.
`features` reads them to tell a lookup question from a piece of work; the word lists of the task
families themselves are in `cues`.
"""

from __future__ import annotations

import re

from harombe.routing.classifier.cues import SHAPING, asks_for_work

WH_RE = re.compile(  # a question word opening a sentence (after a clause, "so", "in" ...)
    r"(?P<lead>(?:[^,:?\s]{1,15}[,:]\s+)?[^,:?]{1,60}[,:]\s+)?"  # "anyway, so I never forget, "
    r"(?:(?:so|and|but|ok|okay|well|wait|then|just|about|roughly|tl;?dr|"
    r"approximately|anyway|anyhow|btw|also|oh|hmm|yes|no|sorry|"
    r"(?:\w+\s+){0,2}(?:question|q)(?:\s+but)?)\b[,:-]?\s+){0,2}"
    r"(?:(?:in|at|on|for|from|to|by|with|of|until|till|since|before|after|en|em|a|de|di|da|"
    r"por|para|hasta|um|im|am|zu|bis|ab|seit)"
    r"\s+)?(?:what|whats|who|whom|whose|when|where|which|"
    r"how do (?:you|i|we) (?:say|pronounce|spell|write)|"
    r"how (?:many|much|long|old|far|tall|high|big|fast|often|wide|deep|heavy)|"
    # "que" without its accent is also "that": a question word only in a question
    r"qué|que(?=[^.!?]*[?？])|qui[ée]n|cu[áa]ndo|d[óo]nde|cu[áa]l|cu[áa]nt[oa]s?|"
    r"quel|quelle|qui|quand|o[ùu]|combien|wer|wann|wo|welche|"
    r"wie (?:viele?|hoch|lang|alt|weit|spät)|was (?:ist|sind|bedeutet|heißt)|"
    r"chi|che cosa|cosa|quando|dove|quale|quali|quant[oiae]|qual|quais|quem|o que|onde|"
    r"quant[oa]s|como se diz|come si dice|cómo se dice|comment (?:dit-on|on dit|dire)|"
    r"wie sagt man|что|кто|когда|где|какой|какая|какое|какие|сколько|kto|kiedy|gdzie|jaki|"
    r"jaka|jakie|jak (?:się )?nazywa|ile|który|która|hangi|kaç|nerede|wat|wie|wanneer|waar|"
    r"welke|welk|hoeveel|"
    r"hoe (?:zeg|noem|spel) je|"
    r"vad|vem|när|vilken|vilket|vilka|hur (?:många|mycket|lång|gammal))\b",
)
EMBEDDED_WH_RE = re.compile(  # "tell me how many ...", "look up who won ..."
    r"\b(?:tell me|look up|find out|check|know|wondering)\s+(?:what|who|when|where|which|"
    r"whether|if|how (?:many|much|long|old))\b"
)
YES_NO_RE = re.compile(
    r"(?P<lead>[^,:?]{1,30}[,:]\s+)?(?:(?:so|and|but|ok|okay|well|wait|then|also|sorry)\s+)?"
    r"(?:is|are|was|were|does|do|did|can|could|has|have|will|would|"
    r"should|"
    r"est-ce|c'est|es|ist|sind|kann|kannst|könntest|hat|stimmt|muss|darf|soll|sollte|gibt|"
    r"peux-tu|puedes|podrías|puoi)\b",
)
TAG_QUESTION_RE = re.compile(  # "... is 121 C, right?": a yes/no question by its tag
    r"(?:,|\s)\s*(?:right|correct|yes|no|true|yeah|isn'?t it|aren'?t they|don'?t they|"
    r"doesn'?t it|oder|non|verdad|vero|né)\s*[?？]$"
)
ALTERNATIVE_RE = re.compile(r"^(?:[\w'-]+ ){0,3}or(?: [\w'-]+){1,3}\s*[?？]$")
"""A choice between two things, closing a question: "fruit or vegetable?", "left or right?"."""
ELLIPTIC_RE = re.compile(
    r"^(?!thoughts|ideas|feedback|opinions?|comments|suggestions)"
    r"(?!.*\b(?:i|you|we|it|tu|vous|du|sie|ich|wir|yo|usted|eu|voc[êe]|io)\b)"
    r"(?:[\w'-]+ ){1,3}[\w'-]+\s*[?？]$"
)
"""A question of a few words and no one to do anything: "Main finding?", "Total dose in mg?"."""
CALCULATION_RE = re.compile(r"^[\d\s.,%+\-*/×÷x()^]*(?:of|in)?[\d\s.,%+\-*/×÷x()^]*=\s*\?$")
"""A sum to work out: "17% of 2,340 = ?"."""
YES_NO_SUBJECT_RE = re.compile(  # "should i ...", "is it ...": without a '?', a question
    r"\s+(?:i|you|we|it|this|that|these|those|there|he|she|they|the|a|an|my|your|our|their|"
    r"his|her|its|ich|du|man|das|der|die|es|\d+)\b"
)
UNMARKED_QUESTION_RE = re.compile(  # "how do i undo my last commit": a question without its mark
    r"(?:how|what|whats|why|who|when|where|which)\s+\w|"
    r"(?:is|are|do|does|did|can|could|should|would|will)\s+"  # not "do a threat model"
    r"(?:i|you|we|it|this|that|these|those|there|he|she|they|my|your|our|their)\b"
)
NARRATION_RE = re.compile(  # a sentence that tells rather than asks: "I play guitar ..."
    r"(?:i|i'm|i've|i'd|im|ive|we|we're|my|our|it|it's|its|this|that|there|he|she|they|like|"
    r"just|these|those|here|here's|heres|because|cause|coz|since|es que|porque|parce que|weil|"
    r"someone|somebody|everyone|people|je|j'|ich|wir|es|c'est|das|yo|mi|mon|ma|eu|io|devo|"
    r"debo|tengo|sono|soy|estoy|voy|vamos|fui|estaba|tenía|je dois|ich muss|nie mam|mam|jestem|"
    r"muszę|chodzi mi|[a-z]+ing)\b"
)
REQUEST_RE = re.compile(  # a sentence that asks something of the reader
    r"\b(?:please|can you|could you|would you(?! believe)|will you|i need you|i want you|"
    r"give me|show me|tell me|"
    r"i'd like you|"
    r"help me|bitte|por favor|peux-tu|pouvez-vous|per favore|puoi|você pode|pode)\b|请|帮"
)
ANSWER_LENGTH_RE = re.compile(  # a short answer asked for: the question is a lookup
    r"\b(?:in )?(?:one|a single|a short|two|three|a few|[1-3]) (?:short )?"
    r"(?:sentence|line|word)s?\b|"
    r"\bin a (?:short )?(?:sentence|line|word)\b|"
    r"\bone(?<!not the one)(?<!not a one)[- ](?:word|line)(?: answer)?\b|"
    r"\byes or no\b|\bshort answer\b|\bbriefly\b|\bnothing else\b|\bno lecture|"
    r"\b(?:[1-9]|1\d|20|one|two|three|four|five|six|seven|eight|nine|ten) words? "
    r"(?:max|maximum|or less|or fewer|tops)\b|"
    r"\bno explanation|\bdon'?t explain|\bkeep it short|"
    r"\bjust the (?:name|number|answer|date|year|word|expansion|range|figure|value|headline)\b|"
    r"\bjust (?:say|tell me|give me) the (?:output|answer|result|number|name|value)\b|"
    r"\ben una (?:frase|palabra)|\ben une (?:phrase|ligne)|\bin einem satz|一句话|"
    r"\b(?:numa|em uma|nu?ma só) frase|\bin una frase|한 문장|一文で|"
    r"\b(?:ein|zwei|drei|[1-3]) sätze\b|\bnur kurz\b"
)
DEFINITION_RE = re.compile(  # "what is a system design interview?": the words name a thing
    r"(?:[^,:?]{1,60}, |(?:tl;?dr|so|ok|okay|btw|quick q(?:uestion)?)[,:]? )?"
    r"(?:what(?:'s| is| are)|qu'est-ce qu'une?|qué es una?|was ist eine?) "
    r"(?!wrong|going on)(?:an? )?[\w'-]+(?: [\w'-]+){0,3}\?$"
)
NAMED_PHRASE_RE = re.compile(  # "on the free plan", "in my schedule": a thing, not a task
    r"\b(?:on|in|of|for|under|with|from|at|into) (?:the|my|your|our|their|this|that|his|her) "
    r"(?:[\w'-]+ ){0,2}[\w'-]+"
)
MAGNITUDE_RE = re.compile(  # "which is bigger?": a comparison that asks for one fact
    r"\bwhich (?:one |number )?is (?:the )?(?:bigger|larger|smaller|greater|higher|lower|"
    r"longer|shorter|heavier|lighter|older|younger|taller)\b"
)
CJK_QUESTION_RE = re.compile(
    r"(?:什么|谁|哪|几|多少|多高|多长|多大|吗)[^。]{0,6}[？?]?$|(?:ですか|ますか|でしょうか)[？?]?$|"
    r"(?:까|요|죠)[？?]$|(?:몇|얼마|언제|어디|누구|무엇|뭐)[^.?？]{0,20}[？?]$|"
    r"(?:อะไร|เท่าไหร่|เท่าไร|กี่|ที่ไหน|เมื่อไหร่|ใคร|ไหม|มั้ย|หรือเปล่า|หรือไม่)[^.?？]{0,16}[？?]?$"
)


def opens_question(rx: re.Pattern[str], low: str) -> re.Match[str] | None:
    """`rx` (`WH_RE`, `YES_NO_RE`) matched at the start of `low`, unless the clause before the
    question word asks for something: "give examples of queries where it helps" is a request."""
    m = rx.match(low)
    lead = m and m.group("lead")
    return None if lead and asks_for_work(lead, also=SHAPING) else m
