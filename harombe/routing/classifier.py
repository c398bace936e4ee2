"""Query-complexity classifier: which model tier (0 simple, 1 medium, 2 complex) a chat needs.

Rules follow the labelling rubric of `tests/data/routing/README.md`:

* the *task* is the final user turn; of a long turn only its edges (the instruction around a
  pasted document) are read for task signals, so a long text with a trivial question stays
  simple while the same text with "summarize and critique" does not;
* task signals are regular expressions for what is asked (a fact, one document's analysis,
  code, many documents, proofs, system design, research plans, many constraints), in English,
  Spanish, French, German and Chinese; quoted words and code are masked first, so asking what
  'analyze' means is not an analysis;
* the context rule then raises the tier by the estimated size of the whole conversation
  (characters / 4): above 2,000 tokens at least tier 1, above 8,000 tier 2.

Deterministic, stdlib only, well under a millisecond per query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SIMPLE, MEDIUM, COMPLEX = 0, 1, 2

CHARS_PER_TOKEN = 4
CONTEXT_TIER_LIMITS = (2000, 8000)  # estimated tokens up to which context tier 0, 1 applies
WHOLE_ASK_WORDS = 80  # a final turn of several paragraphs up to this long is all instruction
SINGLE_PARAGRAPH_ASK_WORDS = 250  # ... and of one paragraph (a list of constraints, say)
EDGE_FIRST_WORDS = 60  # longer turns: the first paragraph counts when at most this long
EDGE_LAST_WORDS = 120  # ... and the last paragraph when at most this long (else its end)

COMPLEX_AT = 3.0  # task score from which a request is complex
MEDIUM_AT = 1.0  # ... and from which it is medium
MEDIUM_CAP = 3.0  # medium signals add at most half this: many of them still make a medium task


@dataclass
class Classification:
    """A routing decision: the tier, the features it was based on, and why, in words."""

    tier: int
    features: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


_HEAD_LEN = 4
_REGEX_META = frozenset(".^$*+?{}[]()|\\")
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def _alternatives(source: str) -> list[str]:
    """The top-level alternatives of a regex source."""
    parts, depth, in_class, start, i = [], 0, False, 0, 0
    while i < len(source):
        c = source[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c in "()":
            depth += 1 if c == "(" else -1
        elif c == "|" and depth == 0:
            parts.append(source[start:i])
            start = i + 1
        i += 1
    parts.append(source[start:])
    return parts


def _heads(source: str) -> frozenset[str] | None:
    """The word starts (up to `_HEAD_LEN` letters) every match of `source` begins with, or None.

    A signal whose heads are known is only run when a word of the text starts with one of them,
    which skips most of the (slow) regex scans.
    """
    heads: set[str] = set()
    for alt in _alternatives(source):
        if alt.startswith("(?:"):
            depth, close = 0, -1
            for i, c in enumerate(alt):
                depth += (c == "(") - (c == ")")
                if depth == 0:
                    close = i
                    break
            if close < 0 or alt[close + 1 : close + 2] in ("?", "*", "{"):
                return None
            inner = _heads(alt[3:close])
            if inner is None:
                return None
            heads |= inner
            continue
        if alt.startswith("\\d"):
            heads.update("0123456789")
            continue
        if alt.startswith("[") and (end := alt.find("]")) > 1:
            chars = alt[1:end]
            if not chars.isalnum() or alt[end + 1 : end + 2] in ("?", "*", "{"):
                return None
            heads.update(chars)
            continue
        head = ""
        for c in alt:
            if c in _REGEX_META or not c.isalnum():
                break
            head += c
        if alt[len(head) : len(head) + 1] in ("?", "*", "{"):
            head = head[:-1]
        if not head:
            return None
        heads.add(head[0] if _CJK_RE.match(head[0]) else head[:_HEAD_LEN])
    return frozenset(heads)


@dataclass(frozen=True)
class _Signal:
    name: str
    weight: float  # added to the task score; negative for signs of a simple request
    pattern: re.Pattern[str]
    reason: str
    heads: frozenset[str] | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "heads", _heads(self.pattern.pattern))


def _rx(pattern: str) -> re.Pattern[str]:
    """A signal pattern, matched against lower-cased text.

    Alternatives do not start with `\\b`: that would defeat the regex engine's first-character
    scan and make matching several times slower; `_found` checks the word boundary instead.
    """
    return re.compile(pattern)


_MANY = (
    r"(?:\d*[3-9]\d*|\d{2,}|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
    r"twenty|dozens?|several|many|multiple)"
)
_DOCS = (
    r"(?:papers|studies|articles|reports|documents|docs|files|postmortems|post-mortems|interviews|"
    r"proposals|filings|sources|transcripts|books|surveys|datasets|trials|rcts|incidents|"
    r"approaches|vendors|countries|companies|frameworks|options|memos|contracts|repos|"
    r"repositories|codebases|case\s+studies|summaries|plans|bids|quotes|drafts|reviews|"
    r"submissions|essays|chapters|logs|spreadsheets|responses|candidates|tools|products|"
    r"libraries|providers|regions|policies|designs)"
)
_SYSTEM_NOUNS = (
    r"(?:system|service|platform|backend|back-end|architecture|infrastructure|pipeline|database|"
    r"protocol|network|cluster|engine|app|application|leaderboard|limiter|lock|queue|cache|store|"
    r"scheduler|marketplace|sdk|api|storage|data\s+model|microservices?|framework|compiler|"
    r"interpreter|runtime|editor|exchange|ledger|feed|timeline|search|crawler|cdn|broker|"
    r"gateway|registry|orchestrator|solution|stack|setup|lab|tracker|shortener|warehouse|"
    r"lake|mesh|bus|server|firewall|vpn|load\s+balancer|cdn|dns|sync|replication)"
)
_STUDY_NOUNS = (
    r"(?:study|trial|experiment|evaluation|survey|research|program|programme|curriculum|"
    r"harness|benchmark|ablation|protocol|meta-?analysis|review|rct|a/b\s+test)"
)
_WORDS = r"(?:[\w'’./-]+[\s-]+)"  # one word and what follows it, inside a phrase

# Signals pointing at a complex request (weights add up; COMPLEX_AT alone makes tier 2).
_COMPLEX_SIGNALS = (
    _Signal(
        "proof",
        3.0,
        _rx(
            r"(?:prove|proving|disprove)\b|proof\s+(?:that|of\s+(?:the|why|correctness))|"
            r"(?:complete|full|rigorous|formal)\s+proof\b|(?:give|with|and|plus)\s+(?:a\s+)?proof\b|"
            r"show\s+that\b|"
            r"d[ée]montre[zr]?\b|prouve[zr]?\b|montre[zr]?\s+que\b|"
            r"demuestr[ae]n?\b|demostrar\b|pruebe\s+que\b|beweise[n]?\b|zeige[n]?,?\s+dass"
            r"|证明"
        ),
        "asks for a proof",
    ),
    _Signal(
        "derivation",
        2.0,
        _rx(r"derive\b|from\s+(?:first\s+principles|scratch)\b|closed[- ]form\b|推导"),
        "asks for a derivation",
    ),
    _Signal(
        "competition_math",
        3.0,
        _rx(
            r"(?:find|determine|characteri[sz]e)\s+all\s+(?:\w+\s+)?(?:functions|pairs|triples|"
            r"integers|reals?|real\s+numbers|positive|primes|solutions|polynomials|values|"
            r"numbers|n|x|k)\b|for\s+(?:which|how\s+many)\s+(?:positive\s+)?(?:integers?|"
            r"reals?|values|primes|n|k|x)\b|how\s+many\s+(?:ways|\d+-digit|positive\s+integers|"
            r"subsets|lattice\s+paths|tilings)|求出?所有|求所有|trouve[zr]?\s+toutes|"
            r"encuentr[ae]\s+todos|finde\s+alle|bestimme\s+alle"
        ),
        "competition-style math question",
    ),
    _Signal(
        "find_all",
        1.5,
        _rx(r"find\s+all\b|determine\s+all\b|how\s+many\s+ways\b"),
        "asks for every solution",
    ),
    _Signal(
        "system_design",
        3.0,
        _rx(
            r"(?:design|architect|re-?architect|redesign|build|scale)\w*\s+"
            + _WORDS
            + r"{0,6}?"
            + _SYSTEM_NOUNS
            + r"s?\b|how\s+(?:would|should|do|can)\s+(?:you|we|i|one)\s+(?:build|design|"
            r"architect|scale|implement)\b|architecture\s+(?:for|of)\b|"
            r"dise[ñn]a\w*\b|entw(?:irf|erfen|ickle)\b.{0,60}(?:architektur|system)|"
            r"conce(?:vez|voir|vois)\b|architecture\s+d|架构|系统设计|设计一个"
        ),
        "system or architecture design",
    ),
    _Signal(
        "design_verb",
        1.5,
        _rx(
            r"(?:design|architect)\s+(?:a|an|the|my|our|me|us|some|\d+)\b|entwirf\b|entwerfen\b|"
            r"dise[ñn]a\b|设计"
        ),
        "asks to design something",
    ),
    _Signal(
        "research",
        3.0,
        _rx(
            r"research\s+(?:plan|proposal|program|programme|design|agenda|questions)\b|"
            r"(?:design|plan|propose|write|outline|develop|conduct|run|do|perform)\s+"
            + _WORDS
            + r"{0,4}?"
            + _STUDY_NOUNS
            + r"\b|meta-?analy[sz]e\b|"
            r"(?:systematic|literature|scoping)\s+review\b|power\s+analysis\b|"
            r"hypothes[ie]s\b|confounders?\b|ablation\b|causal\s+(?:identification|inference)|"
            r"forschungsplan|forschungsdesign|plan\s+de\s+(?:investigaci[óo]n|recherche)|"
            r"m[ée]ta-?analy|metaan[áa]lisis|研究设计|研究计划|研究方案|荟萃分析|元分析|文献综述|因果识别"
        ),
        "research plan, study design or meta-analysis",
    ),
    _Signal(
        "many_documents",
        3.0,
        _rx(
            r"(?:these|the|those|following|below|attached|our|last|at\s+least|all)\s+"
            + _MANY
            + r"\s+"
            + _WORDS
            + r"{0,3}?"
            + _DOCS
            + r"\b|across\s+(?:these|all|the|multiple|many|our)\s+(?:\w+\s+){0,2}?"
            + _DOCS
            + r"\b|synthes[ie]s|synthesi[sz]e\b|common\s+(?:patterns|themes|root\s+causes)\b"
            r"|contradictions\b|trends\s+across\b|compare\s+all\b|merge\s+(?:them|these|the)\b|"
            r"reconcile\b|resolve\s+(?:the\s+)?conflicts\b|综合|synth[ée]ti"
        ),
        "many documents or sources to synthesize",
    ),
    _Signal(
        "several_documents",
        2.0,
        _rx(
            _MANY
            + r"\s+"
            + _WORDS
            + r"{0,3}?(?:papers|studies|articles|reports|documents|postmortems|interviews|"
            r"proposals|filings|transcripts|surveys|datasets|trials|rcts|incidents|contracts|"
            r"memos|case\s+studies|drafts|submissions|essays|logs|spreadsheets|responses)\b"
        ),
        "several documents or options",
    ),
    _Signal(
        "large_change",
        3.0,
        _rx(
            r"(?:every|each|all)\s+(?:the\s+)?(?:file|module|service|call\s+site|usage|class|"
            r"route|package|component)s?\s+(?:in|across|of)\s+(?:the|our|this|my)\s+(?:\w+\s+)?"
            r"(?:repo|repository|codebase|code\s*base|project|monorepo|app|system|platform)\b|"
            r"(?:in|across)\s+(?:every|all(?:\s+the)?|each)\s+(?:files|modules|services|packages|"
            r"module|file|service)\b|"
            r"across\s+(?:all|every|the\s+whole|the\s+entire|our)\s+(?:\w+\s+){0,2}?(?:modules|"
            r"files|services|codebase|repo|repository|monorepo)\b|"
            r"(?:\d{2,}|\d{1,3}(?:,\d{3})+|\d+k|hundreds|dozens|thousands)\s+(?:\w+\s+){0,2}?"
            r"(?:files|modules|services|classes|call\s+sites|routes|endpoints|virtual\s+machines|"
            r"vms|machines|microservices|repos|tables|pages|entity\s+classes)\b|"
            r"(?:whole|entire)\s+(?:\w+\s+)?(?:code\s*base|codebase|repo|monolith|platform|stack|"
            r"infrastructure|system)\b|monolith\b|strangler\b|zero[- ]downtime\b|"
            r"(?:without|no)\s+downtime\b|migration\s+plan\b|plan\s+de\s+migra|migrationsplan|迁移"
        ),
        "large migration or multi-file change",
    ),
    _Signal(
        "migration",
        2.0,
        _rx(
            r"migrat(?:e|ion|ing)\b|rollback\b|roll\s+back\b|cutover\b|dual[- ](?:run|writ)|"
            r"backfill|expand/contract|retour\s+arri|回滚"
        ),
        "migration or rollout work",
    ),
    _Signal(
        "big_deliverable",
        2.0,
        _rx(
            r"(?:complete|full|comprehensive|entire|end-to-end|detailed|whole|thorough)\s+"
            + _WORDS
            + r"{0,3}?(?:plan|policy|agreement|contract|strategy|model|program|"
            r"programme|curriculum|itinerary|protocol|design|proposal|implementation|front-?end|"
            r"back-?end|roadmap|analysis|assessment|framework|specification|spec|route|"
            r"schedule|budget|business)\b|"
            r"roadmap\b|threat\s+model\b|(?:financial|cost|capacity|pricing|revenue)\s+model"
            r"\b|business\s+plan\b|go-to-market\b|master\s+services\s+agreement\b|"
            r"day[- ]by[- ]day\b|periodi[sz]ation\b|plan\s+complet|plan\s+completo|"
            r"vollst[äa]ndige[nr]?\b|完整的?(?:研究|方案|计划|设计)"
        ),
        "large multi-part deliverable",
    ),
    _Signal(
        "hard_engineering",
        2.0,
        _rx(
            r"lock[- ]free\b|wait[- ]free\b|memory\s+order|consensus\b|raft\b|paxos\b|"
            r"crdts?\b|hindley|type\s+(?:inference|checker)\b|garbage\s+collector\b|"
            r"compiler\b|exactly[- ]once\b|effectively\s+once\b|clock\s+(?:skew|drift)\b|"
            r"network\s+partitions?\b|cross-shard\b|shard(?:ed|ing)?\b|event[- ]sourc|"
            r"sagas?\b|byzantine\b|linearizab|distributed\s+(?:lock|transaction|system|"
            r"version|cache|queue)"
        ),
        "hard distributed or systems engineering",
    ),
    _Signal(
        "build_hard",
        1.5,
        _rx(
            r"(?:implement|build|write|code|create|develop)\s+(?:\w+[\s-]+){0,4}?(?:lock-free|"
            r"wait-free|raft|paxos|consensus|crdts?|compiler|garbage\s+collector|distributed|"
            r"type\s+checker|database\s+engine|kernel|operating\s+system|memory\s+allocator|"
            r"storage\s+engine|query\s+planner|jit)\b"
        ),
        "build a hard systems component",
    ),
    _Signal(
        "scale",
        1.5,
        _rx(
            r"\d+(?:[.,]\d+)?\s?(?:k|m|b|million|billion|mio|millionen|millones|millions)\s*"
            r"(?:\w+\s+){0,2}?(?:users|rps|qps|requests|writes|reads|events|messages|sensors|"
            r"devices|dau|daily|jobs|transactions|tps|customers|connections|documents|records)\b|"
            r"\d+\s?(?:tb|pb)\b|千万|百万|亿"
        ),
        "large scale numbers",
    ),
    _Signal(
        "reasoning",
        1.5,
        _rx(
            r"show\s+every\s+deduction\b|every\s+(?:step|deduction)\b|"
            r"must\s+be\s+false\b|valid\s+(?:arrangement|assignment|schedule)\b|"
            r"makespan\b|optimal\b|minimi[sz]e\b|maximi[sz]e\b|exact\s+fraction\b|"
            r"equilibrium\b|work\s+out\b|deduc(?:e|tion)\b|"
            r"justify\s+(?:every|each)\b"
        ),
        "deep multi-step reasoning",
    ),
    _Signal(
        "estimation",
        2.5,
        _rx(
            r"state\s+(?:every|each|all|your)\s+assumptions?\b|propagate\b.{0,30}uncertaint|"
            r"fermi\b|base\s*/\s*bull\s*/\s*bear\b|sensitivity\s+(?:check|analysis)\b|"
            r"(?:bull|bear)\s+case\b"
        ),
        "quantitative model with assumptions",
    ),
    _Signal(
        "security_compliance",
        2.0,
        _rx(
            r"find\s+every\s+attack\b|stride\b|threat\s+model|attack\s+(?:surface|vectors?)\b|"
            r"complies\s+with\b.{0,40}\band\b|"
            r"(?:gdpr|hipaa|ccpa|sox|pci|soc\s*2|iso\s*27001)\b.{0,30}\b(?:gdpr|hipaa|ccpa|sox|"
            r"pci|soc\s*2|iso\s*27001|ai\s+act)"
        ),
        "security or multi-regime compliance analysis",
    ),
    _Signal(
        "repo_work",
        2.0,
        _rx(
            r"go\s+through\s+(?:every|all|the\s+whole|the\s+entire)\b|correlate\b|reconstruct\b|"
            r"(?:read|review|cover)\s+at\s+least\s+\d+|scan\s+the\s+\w+\s+(?:directory|folder|repo)"
        ),
        "tool-driven work over many sources",
    ),
)

# Signals pointing at a medium request (each adds half its weight to the task score).
_MEDIUM_SIGNALS = (
    _Signal(
        "write",
        1.5,
        _rx(
            r"(?:write|compose)\b|draft\s+(?:a|an|the|my|our|me|us|it|this|that|some|one|\d+|two|"
            r"three)\b|(?:create|make|generate|prepare|produce|put\s+together|"
            r"give\s+me|build|set\s+up|come\s+up\s+with)\s+(?:me\s+|us\s+)?"
            + _WORDS
            + r"{0,6}?(?:email|e-mail|letter|essay|post|posts|article|speech|toast|story|poem|"
            r"proposal|descriptions?|report|bio|announcement|message|newsletter|plan|outline|"
            r"itinerary|checklist|agenda|script|function|class|program|query|regex|dockerfile|"
            r"tests?|code|snippet|endpoint|component|module|cli|tool|app|spreadsheet|table|"
            r"template|questions|answers?|summary|pitch|ad|copy|lyrics|song|review|guide|"
            r"tutorial|lesson|quiz|exercises|workout|routine|schedule|budget|resume|cv|memo|faq|"
            r"readme|docs?|reply|response|paragraph|series|presentation|slides|deck|menu|"
            r"recipe|playlist|list\s+of\s+\w+\s+ideas)\b|"
            r"escrib[ea]\b|redact[ae]\b|r[ée]dige[zr]?\b|[ée]cri[st]\b|[ée]crire\b|schreibe?\b|"
            r"verfasse\b|formuliere\b|写一|编写|撰写|起草|帮我写|写个|写出"
        ),
        "asks to write something",
    ),
    _Signal(
        "code_artifact",
        1.5,
        _rx(
            r"(?:python|bash|shell|powershell|javascript|js|typescript|sql|go|golang|rust|java|"
            r"kotlin|swift|c#|c\+\+|ruby|php|perl|excel|vba|css|html|react|node|pandas|numpy)\s+"
            r"(?:script|function|program|code|query|class|snippet|one-liner|formula|command|"
            r"component|macro|module|hook)s?\b|(?:script|function|program|regex|regexp|query|"
            r"formula|macro|one-liner|algorithm|class)\s+(?:to|that|which|for|in)\b|"
            r"unit\s+tests\b|test\s+cases\b|pytest\b|jest\b|函数|代码|程序|脚本|算法"
        ),
        "asks for code",
    ),
    _Signal(
        "code_task",
        1.5,
        _rx(
            r"(?:implement|refactor|debug|fix|optimi[sz]e|convert|port|rewrite|review|"
            r"translate|parallelize|vectorize)\s+(?:\w+\s+){0,3}?(?:this|it|my|the|that|these|"
            r"our|code|function|script|snippet|query|component|class|loop|method)\b|implement\b|"
            r"fix\s*:|what'?s\s+(?:going\s+on|wrong)\b|how\s+(?:do|can|should)\s+i\s+fix\b|"
            r"(?:might|could|will|would)\s+break\b|find\s+the\s+bugs?\b"
        ),
        "code or debugging task",
    ),
    _Signal(
        "bug_report",
        1.5,
        _rx(
            r"(?:bug|bugs|error|errors|(?:index|key|type|value|attribute|name|syntax|runtime|"
            r"import|zerodivision|recursion|memory|assertion|reference|io|os|unicode\w*|overflow|"
            r"lookup|permission|timeout|connection|file\w*)error|exception|nullpointerexception|"
            r"illegal\w*exception|traceback|stack\s+trace|segfault|crash\w*|"
            r"hangs?|fails?|failing|broken|breaks|doesn'?t\s+work|not\s+working|wrong\s+result|"
            r"exits?\s+immediately|infinite\s+loop|race\s+condition|memory\s+leak|garbage|"
            r"over\s+and\s+over|returns?\s+(?:none|null|undefined|nan|an?\s+empty))\b|"
            r"expected\b.{0,40}\bbut\b"
        ),
        "reports a bug",
    ),
    _Signal(
        "analysis",
        1.5,
        _rx(
            r"(?:summari[sz]e|summary|analy[sz]e|analysis|critique|evaluate|assess|review|"
            r"extract|key\s+(?:points|lessons|takeaways|findings|decisions)|takeaways|"
            r"lessons\s+(?:learned|from)|"
            r"themes|trends|action\s+items|pull\s+out|break\s+down|interpret|outline|proofread|"
            r"edit|improve|rewrite|rephrase\s+(?:this|the\s+following)\s+(?:paragraph|text|email|"
            r"letter|essay)|tighten|simplify|flag\s+anything|point\s+out|weaknesses|strengths|"
            r"fallacies|arguments?)\b|"
            r"r[ée]sume[zr]?\b|resum[ei]r?\b|resumen\b|analy[sz]iere?\b|zusammenfass|fasse\b|"
            r"analiza\w*\b|analyse[zr]?\b|总结|概括|分析|摘要|评估"
        ),
        "analysis or rewriting of a text",
    ),
    _Signal(
        "explain",
        1.5,
        _rx(
            r"explain\w*\b|explanation\b|walk\s+(?:me|us)\s+through\b|step[- ]by[- ]step\b|"
            r"in\s+detail\b|in\s+depth\b|with\s+(?:\w+\s+){0,2}?(?:examples?|analogy|analogies)\b|"
            r"examples?\s+of\b|give\s+(?:me\s+)?(?:\w+\s+){0,2}?examples\b|"
            r"how\s+(?:does|do|did)\s+(?:\w+\s+){1,6}?work\b|"
            r"why\s+(?:does|do|is|are|did|would|should|can'?t|doesn'?t|isn'?t)\b|why\s*\?|"
            r"expl[ií]ca\w*|explique[zr]?\b|expliquer\b|erkl[äa]r\w*|en\s+d[ée]tail\b|"
            r"ausf[üu]hrlich\b|con\s+ejemplos\b|avec\s+des\s+exemples\b|mit\s+beispielen\b|"
            r"解释|讲解|举例|例子|详细|逐行|为什么"
        ),
        "in-depth explanation",
    ),
    _Signal(
        "compare",
        1.5,
        _rx(
            r"compare\b|comparison\b|vs\.?\b|versus\b|trade-?offs?\b|pros\s+and\s+cons\b|"
            r"should\s+(?:i|we)\b.{0,80}\bor\b|which\s+(?:would|should)\s+(?:you|i|we)\s+"
            r"(?:pick|choose|recommend)\b|what\s+would\s+you\s+(?:pick|recommend|choose)\b|"
            r"compar(?:a|ar|ez|er|en)\b|vergleich\w*|ventajas\b|avantages\b|比较|对比|优缺点"
        ),
        "comparison with trade-offs",
    ),
    _Signal(
        "difference",
        1.0,
        _rx(
            r"difference\s+between\b|diff[ée]rence\s+entre\b|diferencia\s+entre\b|"
            r"unterschied\s+zwischen\b|区别|不同"
        ),
        "asks for a difference",
    ),
    _Signal(
        "show_work",
        1.5,
        _rx(
            r"show\s+(?:your|the|all)?\s*(?:reasoning|steps|work|math|calculations?)\b|"
            r"reason\s+step\s+by\s+step\b|solve\s+(?:this|for|the)\b"
        ),
        "multi-step problem",
    ),
    _Signal(
        "plan",
        1.0,
        _rx(
            r"\d+-(?:week|day|month)\s+(?:\w+\s+)?plan\b|plan\b|strategy\b|recommend|advice\b|"
            r"plan(?:ifica|ifie)|plane\b|计划|规划"
        ),
        "asks for a plan or advice",
    ),
    _Signal(
        "data_task",
        1.5,
        _rx(
            r"(?:compute|calculate|tabulate)\s+(?:\w+\s+){0,3}?(?:totals?|averages?|means?|"
            r"medians?|statistics|stats|per|each|monthly|weekly|growth)\b|pivot\b"
        ),
        "data processing task",
    ),
)

# Signals of a simple request, looked for in the last sentences of the task only.
_SIMPLE_SIGNALS = (
    _Signal(
        "definition",
        -2.0,
        _rx(
            r"what\s+(?:does|do|did)\s+.{1,40}\s+(?:mean|stand\s+for)\b|stands?\s+for\b|"
            r"what\s+.{1,30}\s+means\b|what\s+is\s+meant\s+by\b|"
            r"meaning\s+of\b|definition\s+of\b|define\b|pronounce\b|spell(?:ed|ing)?\b|"
            r"synonyms?\b|antonyms?\b|plural\s+of\b|one\s+word\s+or\b|hyphen\b|"
            r"que\s+signifie|qu'?est-ce\s+que\b|qu[ée]\s+significa|was\s+bedeutet\b|"
            r"什么意思|的意思"
        ),
        "asks what a word means",
    ),
    _Signal(
        "brief",
        -1.0,
        _rx(
            r"in\s+(?:one|a\s+single|1|a)\s+(?:sentence|line|word)\b|one\s+sentence\b|"
            r"short\s+answer\b|yes\s+or\s+no\b|just\s+(?:yes|no|tell\s+me|the)\b|"
            r"in\s+simple\s+terms\b|r[ée]ponse\s+courte\b|une\s+ou\s+deux\s+phrases\b|"
            r"kurz\b|respuesta\s+corta\b|简单说|一句话"
        ),
        "asks for a short answer",
    ),
    _Signal(
        "lookup",
        -1.0,
        _rx(
            r"^(?:[^.?!:,]{0,40}[:,]\s*)?\W*(?:what(?:'s|\s+is|\s+are|\s+was|\s+were)?|who|when|"
            r"where|which|how\s+(?:many|"
            r"much|old|tall|far|long|deep|big|hot|cold)|is|are|can|does|do|did|was|were)\b"
            r"[^.?!]{0,90}\?\s*$|"
            r"^\W*(?:cu[áa]l|cu[áa]nt[oa]s?|qui[ée]n|d[óo]nde|cu[áa]ndo|qu[ée]|quel(?:le)?s?|"
            r"combien|qui|o[ùu]|quand|wie\s+viele?|wer|wo|wann|welche[rs]?|was)\b[^.?!]{0,90}"
            r"[?？]\s*$|(?:是什么|多少|是谁|哪[个里一]|几[个天]|吗)[？?]?\s*$"
        ),
        "short factual question",
    ),
    _Signal(
        "convert",
        -1.0,
        _rx(
            r"convert\s+[\d.,]+|how\s+many\s+\w+\s+(?:are\s+)?in\s+(?:a|an|one|\d)|"
            r"\d+(?:\.\d+)?\s*%\s+of\s+\d|sqrt\b|\d+\s*(?:times|plus|minus|divided\s+by|"
            r"[x×*/+-])\s*\d+\b|to\s+the\s+power\s+of\b|in\s+(?:feet|inches|km|kilometers|"
            r"miles|minutes|hours|celsius|fahrenheit|grams|ounces|pounds|cups|ml|liters)\b|"
            r"as\s+a\s+(?:decimal|fraction|percentage)\b|combien\s+de\b|wie\s+viele?\b"
        ),
        "conversion or short arithmetic",
    ),
    _Signal(
        "which_is_bigger",
        -1.0,
        _rx(
            r"which\s+(?:one\s+)?is\s+(?:smaller|bigger|larger|greater|higher|lower|more|less|"
            r"heavier|lighter|longer|shorter|older|younger|faster|slower|closer|farther)\b"
        ),
        "compares two values",
    ),
    _Signal(
        "translate_short",
        -1.0,
        _rx(
            r"(?:translate|traduce|traduis|traduire|[üu]bersetze?)\b[^.?!\n]{0,60}$|"
            r"how\s+(?:do|would)\s+you\s+say\b|翻译成|翻成"
        ),
        "translate a phrase",
    ),
    _Signal(
        "chit_chat",
        -2.0,
        _rx(
            r"^\W*(?:hi+|hello|hey|hiya|good\s+(?:morning|evening|afternoon|night)|thanks?|"
            r"thank\s+you|thx|cheers|bye|hola|bonjour|salut|hallo|你好|谢谢)\b[^?]{0,40}$|"
            r"joke\b|favou?rite\s+\w+\b|fun\s+fact\b|name\s+ideas?\b|(?:suggest|recommend|give\s+me|"
            r"come\s+up\s+with|pick)\s+(?:a|an|some|\d+|three|five)?\s*(?:good\s+|funny\s+|cute\s+)?"
            r"(?:\w+\s+)?names?\b"
        ),
        "chit-chat",
    ),
    _Signal(
        "short_creative",
        -1.5,
        _rx(
            r"(?:write|give|tell|make|suggest|come\s+up\s+with)\s+(?:me\s+)?(?:a|an|one|some|"
            r"\d|two|three|four|five)?\s*(?:short\s+|quick\s+|funny\s+|cute\s+|catchy\s+)?"
            r"(?:joke|haiku|pun|slogan|tagline|title|name|nickname|caption|limerick|riddle|"
            r"sentence|tweet|toast\s+line)s?\b"
        ),
        "a very short piece of writing",
    ),
    _Signal(
        "trivial_code",
        -2.0,
        _rx(
            r"what\s+(?:does|will|would)\s+(?:this|it|the\s+following)\s+(?:print|output|"
            r"return|display)\b|what\s+(?:programming\s+)?language\s+is\s+this\b|"
            r"what\s+does\s+`code`\s+do\b|what\s+does\s+this\s+(?:command|flag)\s+do\b"
        ),
        "trivial question about a snippet",
    ),
    _Signal(
        "doc_lookup",
        -1.5,
        _rx(
            r"(?:what|which|who|when|where)\b.{0,30}\b(?:title|name|date|author|headline|subject|"
            r"year|number|address|price|deadline|day|time|amount|total|phone|version|location|venue)\b"
            r".{0,40}\?|"
            r"main\s+(?:finding|result|point|idea)\b|headline\s+result\b|"
            r"what\s+did\s+they\s+find\b|r[ée]sultat\s+principal\b"
        ),
        "looks up one detail in a text",
    ),
)

_DOC_OPEN, _DOC_CLOSE = "<attached_document>", "</attached_document>"
_FENCE_RE = re.compile(r"```.*?(?:```|\Z)", re.S)
_INLINE_CODE_RE = re.compile(r"`[^`\n]{1,200}`")
_QUOTE_RE = re.compile(
    r"(?<![\w'])'([^'\n]{1,300}?)'(?!\w)|\"([^\"\n]{1,300}?)\"|“([^”]{1,300}?)”|«([^»]{1,300}?)»|"
    r"„([^“]{1,300}?)“|「([^」]{1,300}?)」"
)
_PARA_RE = re.compile(r"\n\s*\n")
_SENT_RE = re.compile(r"(?<=[.?!。？！])\s+|\n+")
_TOKEN_RE = re.compile(r"\w+")
_ITEM_SEP_RE = re.compile(r"[,;，；、]")
_LIST_LINE_RE = re.compile(r"^\s*(?:[-*•|]|\d+[.)])\s", re.M)
_LAST_ITEM_RE = re.compile(
    r",[^,;.\n]{1,60}\s(?:and|et|y|und|e|和|及)\s[^,;]{1,60}[.!?]?\s*$", re.M
)
_PAREN_RE = re.compile(r"\([^()]*\)|\{[^{}]*\}|\[[^\[\]]*\]")
_NUMBER_RE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_QUANTITY_RE = re.compile(
    r"(?<![\w.])\d[\d,]*(?:\.\d+)?|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|"
    r"twelve|twenty|hundred|thousand|twice|thrice|half|double|triple|dozen)\b",
)
_QUANT_QUESTION_RE = re.compile(
    r"\b(?:how\s+(?:many|much|long|far|old|wide|tall|fast|high|deep|big|often)|what|at\s+what|"
    r"when\s+will|find|calculate|compute|determine|work\s+out)\b",
)
_CONSTRAINT_RE = re.compile(
    r"\b(?:no|not|never|only|must|without|except|budget|excluding|avoid|deadline|required|"
    r"can'?t|cannot|at\s+(?:least|most)|no\s+more\s+than|need\s+to|needs|within|under)\b",
)
_CODE_LINE_RE = re.compile(
    r"^\s*(?:def |class |import |from \w+ import|function |const |let |var |for\s*\(|"
    r"#include|public |private |func |fn |SELECT |if\s*\(|while\s*\(|return\b)|[;{}]\s*$",
    re.M,
)
_TECH_RE = re.compile(
    r"\b(?:python|javascript|typescript|java|rust|golang|c\+\+|sql|postgres|mysql|docker|"
    r"kubernetes|npm|pip|git|api|server|script|function|compile[rd]?|build|deploy|app|code|"
    r"program|container|browser|query|database|regex|react|node|linux|bash|shell)\b",
)
_MATH_RE = re.compile(r"[≥≤≠√∑∏∫∞ℝℕℤℚ²³⁴⁵ⁿ→∀∃≡]|\b[a-z]\([a-z]\)|\b[a-z]_\{?\w|\^\w|\bn!")
_MATH_TERMS_RE = re.compile(
    r"\b(?:positive\s+integers?|real\s+numbers?|such\s+that|perfect\s+squares?|primes?|"
    r"divisible|modulo|polynomials?|inequalit(?:y|ies)|sequences?|converges?|irrational|"
    r"bijections?|isomorphi\w+|eigen\w+|integers?|recurrence|probability|expected\s+value)\b",
)
_CLAUSE_SPLIT_RE = re.compile(r"[.?!,:;\n。？！，：；]+\s*")
_IMPERATIVE_RE = re.compile(  # matched at the start of a lower-cased clause
    r"(?:(?:please|now|then|also|and|so|ok|okay|just|finally)\s+)*(?:write|draft|"
    r"compose|summari[sz]e|explain|describe|compare|contrast|list|give|find|identify|propose|"
    r"design|plan|create|make|build|analy[sz]e|assess|evaluate|extract|turn|pull|translate|"
    r"rewrite|improve|review|check|fix|debug|convert|tell|suggest|recommend|outline|prove|show|"
    r"estimate|calculate|compute|merge|rank|prioriti[sz]e|organi[sz]e|help|highlight|note|"
    r"point|flag|map|produce|prepare|generate|synthesi[sz]e|group|lay|walk|break|implement|"
    r"refactor|edit|proofread|shorten|rephrase|simplify|critique|argue|derive|solve|determine|"
    r"decide|choose|pick|sort|classify|count|read|open|search|look|go|scan|run|use|keep|add|"
    r"remove|replace|update|migrate|split|define|answer|discuss|clarify|condense|rate|correct|"
    r"format|clean|polish|reply|respond|schedule|assign|set|put|do|work|fill|complete|continue|"
    r"expand|elaborate|justify|state|include|anticipate|adapt|quote|cite|support|draw|seat|"
    r"escribe|redacta|resume|explica|expl[ií]came|compara|traduce|dise[ñn]a|elabora|analiza|"
    r"dame|haz|crea|enumera|[ée]cris|r[ée]dige[zr]?|r[ée]sume[zr]?|explique[zr]?|comparez|"
    r"traduis|con[çc]ois|[ée]labore[zr]?|analyse[zr]?|donne[zr]?|fais|faites|cr[ée]e[zr]?|"
    r"propose[zr]?|d[ée]montre[zr]?|prouve[zr]?|schreib|fasse|erkl[äa]re|vergleiche|"
    r"[üu]bersetze|entwirf|entwickle|analysiere|gib|mach|erstelle|beweise|nenne)\b|[请帮把给写]"
)
_ASK_MARKER_RE = re.compile(
    r"[?？]|can\s+you\b|could\s+you\b|would\s+you\b|will\s+you\b|i\s+need\b|i\s+want\b|"
    r"i\s+would\s+like\b|help\s+me\b|please\b|here\s+is\b|here\s+are\b|below\s+is\b|"
    r"below\s+are\b|here'?s\b|attached\b|bitte\b|por\s+favor\b|peux-tu|pouvez-vous|请"
)
_LANG_HINTS = (
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("es", re.compile(r"[¿¡ñ]|\b(?:qué|cómo|cuál|por\s+favor|explícame)\b", re.I)),
    ("fr", re.compile(r"\b(?:est-ce|voici|peux-tu|quelle|je|une|des|svp|élabore)\b", re.I)),
    ("de", re.compile(r"[äöüß]|\b(?:bitte|ich|und|der|die|das|ist|wie)\b", re.I)),
)


@dataclass
class _Task:
    """The final user turn, taken apart."""

    ask: str  # the instruction: the whole turn, or the edges around a pasted text
    closing: list[str]  # the ask's last sentences, where a simple question shows itself
    payload_words: int  # words of pasted text and quotes outside the ask
    has_code: bool
    code_lines: int
    has_attachment: bool


def _text(content: Any) -> str:
    """Plain text of a message content: str, None, or OpenAI-style list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(getattr(part, "text", None), str):
                parts.append(part.text)
        return "\n".join(parts)
    return str(content)


def _role_and_text(message: Any) -> tuple[str, str]:
    if isinstance(message, dict):
        return str(message.get("role") or ""), _text(message.get("content"))
    return str(getattr(message, "role", "") or ""), _text(getattr(message, "content", None))


def _n_words(text: str) -> int:
    """Words, counting two CJK characters as one."""
    return len(text.split()) + (0 if text.isascii() else len(_CJK_RE.findall(text)) // 2)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT_RE.split(text) if s.strip() and s.strip() != "[code]"]


def _strip_attachments(text: str) -> tuple[str, bool]:
    """Text without `<attached_document>` blocks (str.find: attachments can be huge)."""
    start = text.find(_DOC_OPEN)
    if start < 0:
        return text, False
    kept = []
    while start >= 0:
        end = text.find(_DOC_CLOSE, start)
        kept.append(text[:start])
        text = "" if end < 0 else text[end + len(_DOC_CLOSE) :]
        start = text.find(_DOC_OPEN)
    kept.append(text)
    return " ".join(kept), True


def _is_instruction(text: str) -> bool:
    """Whether `text` asks for something (an imperative clause, a question, "can you" ...)."""
    low = text.lower()
    if _found(_ASK_MARKER_RE, low):
        return True
    return any(_IMPERATIVE_RE.match(clause) for clause in _CLAUSE_SPLIT_RE.split(low))


def _edges(body: str) -> str:
    """The instruction part of a turn: all of a short one, the edges of a long one.

    A long turn is a pasted text with the request before and/or after it; the first paragraph
    counts if it is short and reads as an instruction, the last one if it reads as one or
    nothing else does (it is cut to its last sentences when long).
    """
    paras = [p.strip() for p in _PARA_RE.split(body) if p.strip()]
    words = _n_words(body)
    if len(paras) <= 1:
        if words <= SINGLE_PARAGRAPH_ASK_WORDS:
            return body
        sentences = _sentences(body)
        return "\n".join(sentences[:1] + sentences[-2:])
    if words <= WHOLE_ASK_WORDS:
        return body
    head = paras[0]
    head = head if _n_words(head) <= EDGE_FIRST_WORDS and _is_instruction(head) else ""
    tail = paras[-1]
    if _n_words(tail) > EDGE_LAST_WORDS:
        tail = "\n".join(_sentences(tail)[-2:])
    if head and not _is_instruction(tail):
        return head
    return f"{head}\n\n{tail}" if head else tail


def _split_task(task: str) -> _Task:
    body, has_attachment = _strip_attachments(task)
    code_blocks = _FENCE_RE.findall(body)
    body = _FENCE_RE.sub("\n\n[code]\n\n", body)
    code_lines = sum(block.count("\n") for block in code_blocks)
    code_lines += len(_CODE_LINE_RE.findall(body))
    inline_code = _INLINE_CODE_RE.search(body) is not None
    body = _INLINE_CODE_RE.sub(" `code` ", body)
    quoted_words = sum(_n_words(m.group(0)) for m in _QUOTE_RE.finditer(body))
    body = _QUOTE_RE.sub(" 'quote' ", body)
    ask = _edges(body).strip()
    return _Task(
        ask=ask,
        closing=_sentences(ask)[-2:],
        payload_words=max(0, _n_words(body) - _n_words(ask)) + quoted_words,
        has_code=bool(code_blocks) or inline_code or code_lines >= 2,
        code_lines=code_lines,
        has_attachment=has_attachment,
    )


def _context_tier(tokens: float) -> int:
    low, high = CONTEXT_TIER_LIMITS
    return SIMPLE if tokens <= low else MEDIUM if tokens <= high else COMPLEX


def _found(pattern: re.Pattern[str], text: str) -> bool:
    """Whether `pattern` matches in `text` at the start of a word (or at a CJK character)."""
    for m in pattern.finditer(text):
        start = m.start()
        first = text[start]
        before = text[start - 1] if start else " "
        if not (before.isalnum() or before == "_") or not first.isalnum() or _CJK_RE.match(first):
            return True
    return False


def _word_starts(text: str) -> dict[str, list[int]]:
    """Where words start, by their first 1 to `_HEAD_LEN` letters; CJK characters each count."""
    starts: dict[str, list[int]] = {}
    for m in _TOKEN_RE.finditer(text):
        word, pos = m.group(), m.start()
        for n in range(1, min(len(word), _HEAD_LEN) + 1):
            head = word[:n]
            if head in starts:
                starts[head].append(pos)
            else:
                starts[head] = [pos]
    if not text.isascii():
        for m in _CJK_RE.finditer(text):
            starts.setdefault(m.group(), []).append(m.start())
    return starts


def _signal_found(signal: _Signal, text: str, starts: dict[str, list[int]]) -> bool:
    """`_found`, but trying the pattern only where a word starts with one of its heads."""
    if signal.heads is None:
        return _found(signal.pattern, text)
    match = signal.pattern.match
    for head in signal.heads:
        for pos in starts.get(head, ()):
            if match(text, pos):
                return True
    return False


_Prepared = list[tuple[str, dict[str, list[int]]]]


def _prepare(texts: Iterable[str]) -> _Prepared:
    """Lower-cased texts with their word starts, for `_matches`."""
    return [(low, _word_starts(low)) for low in (text.lower() for text in texts)]


def _matches(signals: Iterable[_Signal], prepared: _Prepared) -> list[_Signal]:
    return [s for s in signals if any(_signal_found(s, t, starts) for t, starts in prepared)]


def _structure(task: _Task, generative: bool, reasons: list[str]) -> float:
    """Score from the shape of the ask: listed requirements, constraints, maths, code size."""
    ask = task.ask
    low = ask.lower()
    items = len(_LIST_LINE_RE.findall(ask))
    for sentence in _sentences(ask):
        if not _is_instruction(sentence):
            continue  # context ("we're on version 2, we use X, and ...") lists no requirements
        listed = _PAREN_RE.sub("", _NUMBER_RE.sub("0", sentence))
        commas = len(_ITEM_SEP_RE.findall(listed))
        items += commas + (commas >= 2 and _LAST_ITEM_RE.search(listed) is not None)
    score = 0.0
    if items >= 4:
        score += 2.0 if items >= 8 else 1.0
        reasons.append(f"{items} listed requirements")
    constraints = len(_CONSTRAINT_RE.findall(low)) if generative else 0
    if constraints >= 3:
        score += 2.0 if constraints >= 5 else 1.0
        reasons.append(f"{constraints} constraints")
    if _n_words(ask) > 60:
        score += 0.5
    math = len(_MATH_RE.findall(low)) + len(_MATH_TERMS_RE.findall(low))
    if math >= 3:
        score += 1.5
        reasons.append("mathematical notation")
    if task.code_lines >= 25:
        score += 1.0
        reasons.append("long code")
    return score


def _is_word_problem(task: _Task) -> bool:
    """A setup with several quantities, then a question that needs them combined."""
    if task.has_code or len(task.closing) < 2:
        return False
    if not _QUANT_QUESTION_RE.search(task.closing[-1].lower()):
        return False
    return len(_QUANTITY_RE.findall(task.ask.lower())) >= 3


def explain(messages: Any) -> Classification:
    """Classify `messages` and say why: the tier, the features seen and short reasons."""
    turns = [_role_and_text(m) for m in (messages or [])]
    tokens = sum(len(text) for _, text in turns) / CHARS_PER_TOKEN
    context_tier = _context_tier(tokens)
    users = [i for i, (role, _) in enumerate(turns) if role == "user"]
    task = _split_task(turns[users[-1] if users else -1][1] if turns else "")

    ask = _prepare([task.ask])
    complex_hits = _matches(_COMPLEX_SIGNALS, ask)
    medium_hits = _matches(_MEDIUM_SIGNALS, ask)
    simple_hits = _matches(_SIMPLE_SIGNALS, _prepare(task.closing))
    if task.code_lines:  # a question about a real snippet is no lookup
        simple_hits = [s for s in simple_hits if s.name != "lookup"]
    if any(s.weight >= COMPLEX_AT for s in complex_hits):  # "quick question: prove ..."
        simple_hits = [s for s in simple_hits if s.name == "definition"]
    if not (task.has_code or _TECH_RE.search(task.ask.lower())):  # "error" in prose is no bug
        medium_hits = [s for s in medium_hits if s.name != "bug_report"]
    names = {s.name for s in complex_hits + medium_hits + simple_hits}
    reasons = [s.reason for s in complex_hits + medium_hits + simple_hits]

    generative = bool(complex_hits) or bool(names & {"write", "plan", "design_verb"})
    medium_score = sum(s.weight for s in medium_hits)
    simple_score = sum(s.weight for s in simple_hits)
    score = sum(s.weight for s in complex_hits) + 0.5 * min(medium_score, MEDIUM_CAP)
    score += simple_score
    score += _structure(task, generative, reasons)
    if task.has_code and "trivial_code" not in names and task.code_lines:
        score += 1.0
        reasons.append("contains code")
    if _is_word_problem(task):
        score += 1.5 - min(0.0, simple_score)
        reasons.append("word problem with several quantities")
    if task.payload_words >= 60 and medium_hits:
        score += 0.5

    if score >= COMPLEX_AT:
        task_tier = COMPLEX
    elif score >= MEDIUM_AT or (medium_hits and medium_score + simple_score > 0):
        task_tier = MEDIUM
    else:
        task_tier = SIMPLE
    tier = max(task_tier, context_tier)

    if context_tier:
        reasons.append(f"about {int(tokens):,} tokens of input (context tier {context_tier})")
    if not reasons:
        reasons.append("short request with no sign of a harder task")
    features = {
        "est_tokens": round(tokens),
        "context_tier": context_tier,
        "task_tier": task_tier,
        "task_score": round(score, 2),
        "signals": sorted(names),
        "ask_words": _n_words(task.ask),
        "payload_words": task.payload_words,
        "has_code": task.has_code,
        "has_attachment": task.has_attachment,
        "turns": len(turns),
        "language": next((name for name, rx in _LANG_HINTS if rx.search(task.ask)), "en"),
    }
    return Classification(tier=tier, features=features, reasons=reasons)


def classify(messages: Any) -> int:
    """Tier 0 (simple), 1 (medium) or 2 (complex) for a chat; see the module docstring."""
    return explain(messages).tier
