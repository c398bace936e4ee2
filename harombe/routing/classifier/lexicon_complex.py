"""The lexicon of signals pointing at a complex request (see `lexicon` for the others)."""

from __future__ import annotations

from harombe.routing.classifier.lexicon import DOCS, MANY, STUDY_NOUNS, SYSTEM_NOUNS, WORDS
from harombe.routing.classifier.matching import Signal, rx

COMPLEX_SIGNALS = (
    Signal(
        "proof",
        3.0,
        rx(
            r"(?:prove|proving|disprove)\b|proof\s+(?:that|of\s+(?:the|why|correctness))|"
            r"(?:complete|full|rigorous|formal)\s+proof\b|(?:give|with|and|plus)\s+(?:a\s+)?proof\b|"
            r"show\s+that\b|"
            r"d[ée]montre[zr]?\b|prouve[zr]?\b|montre[zr]?\s+que\b|"
            r"demuestr[ae]n?\b|demostrar\b|pruebe\s+que\b|beweise[n]?\b|zeige[n]?,?\s+dass"
            r"|证明"
        ),
        "asks for a proof",
    ),
    Signal(
        "derivation",
        2.0,
        rx(r"derive\b|from\s+(?:first\s+principles|scratch)\b|closed[- ]form\b|推导"),
        "asks for a derivation",
    ),
    Signal(
        "competition_math",
        3.0,
        rx(
            r"(?:find|determine|characteri[sz]e)\s+all\s+(?:\w+\s+)?(?:functions|pairs|triples|"
            r"integers|reals?|real\s+numbers|positive|primes|solutions|polynomials|values|"
            r"numbers|n|x|k)\b|for\s+(?:which|how\s+many)\s+(?:positive\s+)?(?:integers?|"
            r"reals?|values|primes|n|k|x)\b|how\s+many\s+(?:ways|\d+-digit|positive\s+integers|"
            r"subsets|lattice\s+paths|tilings)|求出?所有|求所有|trouve[zr]?\s+toutes|"
            r"encuentr[ae]\s+todos|finde\s+alle|bestimme\s+alle"
        ),
        "competition-style math question",
    ),
    Signal(
        "find_all",
        1.5,
        rx(r"find\s+all\b|determine\s+all\b|how\s+many\s+ways\b"),
        "asks for every solution",
    ),
    Signal(
        "system_design",
        3.0,
        rx(
            r"(?:design|architect|re-?architect|redesign|build|scale)\w*\s+"
            + WORDS
            + r"{0,6}?"
            + SYSTEM_NOUNS
            + r"s?\b|how\s+(?:would|should|do|can)\s+(?:you|we|i|one)\s+(?:build|design|"
            r"architect|scale|implement)\b|architecture\s+(?:for|of)\b|"
            r"dise[ñn]a\w*\b|entw(?:irf|erfen|ickle)\b.{0,60}(?:architektur|system)|"
            r"conce(?:vez|voir|vois)\b|architecture\s+d|架构|系统设计|设计一个"
        ),
        "system or architecture design",
    ),
    Signal(
        "design_verb",
        1.5,
        rx(
            r"(?:design|architect)\s+(?:a|an|the|my|our|me|us|some|\d+)\b|entwirf\b|entwerfen\b|"
            r"dise[ñn]a\b|设计"
        ),
        "asks to design something",
    ),
    Signal(
        "research",
        3.0,
        rx(
            r"research\s+(?:plan|proposal|program|programme|design|agenda|questions)\b|"
            r"(?:design|plan|propose|write|outline|develop|conduct|run|do|perform)\s+"
            + WORDS
            + r"{0,4}?"
            + STUDY_NOUNS
            + r"\b|meta-?analy[sz]e\b|"
            r"(?:systematic|literature|scoping)\s+review\b|power\s+analysis\b|"
            r"hypothes[ie]s\b|confounders?\b|ablation\b|causal\s+(?:identification|inference)|"
            r"forschungsplan|forschungsdesign|plan\s+de\s+(?:investigaci[óo]n|recherche)|"
            r"m[ée]ta-?analy|metaan[áa]lisis|研究设计|研究计划|研究方案|荟萃分析|元分析|文献综述|因果识别"
        ),
        "research plan, study design or meta-analysis",
    ),
    Signal(
        "many_documents",
        3.0,
        rx(
            r"(?:these|the|those|following|below|attached|our|last|at\s+least|all)\s+"
            + MANY
            + r"\s+"
            + WORDS
            + r"{0,3}?"
            + DOCS
            + r"\b|across\s+(?:these|all|the|multiple|many|our)\s+(?:\w+\s+){0,2}?"
            + DOCS
            + r"\b|synthes[ie]s|synthesi[sz]e\b|common\s+(?:patterns|themes|root\s+causes)\b"
            r"|contradictions\b|trends\s+across\b|compare\s+all\b|merge\s+(?:them|these|the)\b|"
            r"reconcile\b|resolve\s+(?:the\s+)?conflicts\b|综合|synth[ée]ti"
        ),
        "many documents or sources to synthesize",
    ),
    Signal(
        "several_documents",
        2.0,
        rx(
            MANY
            + r"\s+"
            + WORDS
            + r"{0,3}?(?:papers|studies|articles|reports|documents|postmortems|interviews|"
            r"proposals|filings|transcripts|surveys|datasets|trials|rcts|incidents|contracts|"
            r"memos|case\s+studies|drafts|submissions|essays|logs|spreadsheets|responses)\b"
        ),
        "several documents or options",
    ),
    Signal(
        "large_change",
        3.0,
        rx(
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
    Signal(
        "migration",
        2.0,
        rx(
            r"migrat(?:e|ion|ing)\b|rollback\b|roll\s+back\b|cutover\b|dual[- ](?:run|writ)|"
            r"backfill|expand/contract|retour\s+arri|回滚"
        ),
        "migration or rollout work",
    ),
    Signal(
        "big_deliverable",
        2.0,
        rx(
            r"(?:complete|full|comprehensive|entire|end-to-end|detailed|whole|thorough)\s+"
            + WORDS
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
    Signal(
        "hard_engineering",
        2.0,
        rx(
            r"lock[- ]free\b|wait[- ]free\b|memory\s+order|consensus\b|raft\b|paxos\b|"
            r"crdts?\b|hindley|type\s+(?:inference|checker)\b|garbage\s+collector\b|"
            r"compiler\b|exactly[- ]once\b|effectively\s+once\b|clock\s+(?:skew|drift)\b|"
            r"network\s+partitions?\b|cross-shard\b|shard(?:ed|ing)?\b|event[- ]sourc|"
            r"sagas?\b|byzantine\b|linearizab|distributed\s+(?:lock|transaction|system|"
            r"version|cache|queue)"
        ),
        "hard distributed or systems engineering",
    ),
    Signal(
        "build_hard",
        1.5,
        rx(
            r"(?:implement|build|write|code|create|develop)\s+(?:\w+[\s-]+){0,4}?(?:lock-free|"
            r"wait-free|raft|paxos|consensus|crdts?|compiler|garbage\s+collector|distributed|"
            r"type\s+checker|database\s+engine|kernel|operating\s+system|memory\s+allocator|"
            r"storage\s+engine|query\s+planner|jit)\b"
        ),
        "build a hard systems component",
    ),
    Signal(
        "scale",
        1.5,
        rx(
            r"\d+(?:[.,]\d+)?\s?(?:k|m|b|million|billion|mio|millionen|millones|millions)\s*"
            r"(?:\w+\s+){0,2}?(?:users|rps|qps|requests|writes|reads|events|messages|sensors|"
            r"devices|dau|daily|jobs|transactions|tps|customers|connections|documents|records)\b|"
            r"\d+\s?(?:tb|pb)\b|千万|百万|亿"
        ),
        "large scale numbers",
    ),
    Signal(
        "reasoning",
        1.5,
        rx(
            r"show\s+every\s+deduction\b|every\s+(?:step|deduction)\b|"
            r"must\s+be\s+false\b|valid\s+(?:arrangement|assignment|schedule)\b|"
            r"makespan\b|optimal\b|minimi[sz]e\b|maximi[sz]e\b|exact\s+fraction\b|"
            r"equilibrium\b|work\s+out\b|deduc(?:e|tion)\b|"
            r"justify\s+(?:every|each)\b"
        ),
        "deep multi-step reasoning",
    ),
    Signal(
        "estimation",
        2.5,
        rx(
            r"state\s+(?:every|each|all|your)\s+assumptions?\b|propagate\b.{0,30}uncertaint|"
            r"fermi\b|base\s*/\s*bull\s*/\s*bear\b|sensitivity\s+(?:check|analysis)\b|"
            r"(?:bull|bear)\s+case\b"
        ),
        "quantitative model with assumptions",
    ),
    Signal(
        "security_compliance",
        2.0,
        rx(
            r"find\s+every\s+attack\b|stride\b|threat\s+model|attack\s+(?:surface|vectors?)\b|"
            r"complies\s+with\b.{0,40}\band\b|"
            r"(?:gdpr|hipaa|ccpa|sox|pci|soc\s*2|iso\s*27001)\b.{0,30}\b(?:gdpr|hipaa|ccpa|sox|"
            r"pci|soc\s*2|iso\s*27001|ai\s+act)"
        ),
        "security or multi-regime compliance analysis",
    ),
    Signal(
        "repo_work",
        2.0,
        rx(
            r"go\s+through\s+(?:every|all|the\s+whole|the\s+entire)\b|correlate\b|reconstruct\b|"
            r"(?:read|review|cover)\s+at\s+least\s+\d+|scan\s+the\s+\w+\s+(?:directory|folder|repo)"
        ),
        "tool-driven work over many sources",
    ),
)

# Signals pointing at a medium request (each adds half its weight to the task score).
