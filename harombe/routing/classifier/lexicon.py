"""The lexicon of task signals for medium and simple requests, and the shared phrase parts.

Each signal is a named, weighted regex over lower-cased text (see `matching`); weights are added
to a request's task score by `rules`. English, Spanish, French, German and Chinese.
"""

from __future__ import annotations

from harombe.routing.classifier.matching import Signal, rx

MANY = (
    r"(?:\d*[3-9]\d*|\d{2,}|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
    r"twenty|dozens?|several|many|multiple)"
)
DOCS = (
    r"(?:papers|studies|articles|reports|documents|docs|files|postmortems|post-mortems|interviews|"
    r"proposals|filings|sources|transcripts|books|surveys|datasets|trials|rcts|incidents|"
    r"approaches|vendors|countries|companies|frameworks|options|memos|contracts|repos|"
    r"repositories|codebases|case\s+studies|summaries|plans|bids|quotes|drafts|reviews|"
    r"submissions|essays|chapters|logs|spreadsheets|responses|candidates|tools|products|"
    r"libraries|providers|regions|policies|designs)"
)
SYSTEM_NOUNS = (
    r"(?:system|service|platform|backend|back-end|architecture|infrastructure|pipeline|database|"
    r"protocol|network|cluster|engine|app|application|leaderboard|limiter|lock|queue|cache|store|"
    r"scheduler|marketplace|sdk|api|storage|data\s+model|microservices?|framework|compiler|"
    r"interpreter|runtime|editor|exchange|ledger|feed|timeline|search|crawler|cdn|broker|"
    r"gateway|registry|orchestrator|solution|stack|setup|lab|tracker|shortener|warehouse|"
    r"lake|mesh|bus|server|firewall|vpn|load\s+balancer|cdn|dns|sync|replication)"
)
STUDY_NOUNS = (
    r"(?:study|trial|experiment|evaluation|survey|research|program|programme|curriculum|"
    r"harness|benchmark|ablation|protocol|meta-?analysis|review|rct|a/b\s+test)"
)
WORDS = r"(?:[\w'’./-]+[\s-]+)"  # one word and what follows it, inside a phrase


MEDIUM_SIGNALS = (
    Signal(
        "write",
        1.5,
        rx(
            r"(?:write|compose)\b|draft\s+(?:a|an|the|my|our|me|us|it|this|that|some|one|\d+|two|"
            r"three)\b|(?:create|make|generate|prepare|produce|put\s+together|"
            r"give\s+me|build|set\s+up|come\s+up\s+with)\s+(?:me\s+|us\s+)?"
            + WORDS
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
    Signal(
        "code_artifact",
        1.5,
        rx(
            r"(?:python|bash|shell|powershell|javascript|js|typescript|sql|go|golang|rust|java|"
            r"kotlin|swift|c#|c\+\+|ruby|php|perl|excel|vba|css|html|react|node|pandas|numpy)\s+"
            r"(?:script|function|program|code|query|class|snippet|one-liner|formula|command|"
            r"component|macro|module|hook)s?\b|(?:script|function|program|regex|regexp|query|"
            r"formula|macro|one-liner|algorithm|class)\s+(?:to|that|which|for|in)\b|"
            r"unit\s+tests\b|test\s+cases\b|pytest\b|jest\b|函数|代码|程序|脚本|算法"
        ),
        "asks for code",
    ),
    Signal(
        "code_task",
        1.5,
        rx(
            r"(?:implement|refactor|debug|fix|optimi[sz]e|convert|port|rewrite|review|"
            r"translate|parallelize|vectorize)\s+(?:\w+\s+){0,3}?(?:this|it|my|the|that|these|"
            r"our|code|function|script|snippet|query|component|class|loop|method)\b|implement\b|"
            r"fix\s*:|what'?s\s+(?:going\s+on|wrong)\b|how\s+(?:do|can|should)\s+i\s+fix\b|"
            r"(?:might|could|will|would)\s+break\b|find\s+the\s+bugs?\b"
        ),
        "code or debugging task",
    ),
    Signal(
        "bug_report",
        1.5,
        rx(
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
    Signal(
        "analysis",
        1.5,
        rx(
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
    Signal(
        "explain",
        1.5,
        rx(
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
    Signal(
        "compare",
        1.5,
        rx(
            r"compare\b|comparison\b|vs\.?\b|versus\b|trade-?offs?\b|pros\s+and\s+cons\b|"
            r"should\s+(?:i|we)\b.{0,80}\bor\b|which\s+(?:would|should)\s+(?:you|i|we)\s+"
            r"(?:pick|choose|recommend)\b|what\s+would\s+you\s+(?:pick|recommend|choose)\b|"
            r"compar(?:a|ar|ez|er|en)\b|vergleich\w*|ventajas\b|avantages\b|比较|对比|优缺点"
        ),
        "comparison with trade-offs",
    ),
    Signal(
        "difference",
        1.0,
        rx(
            r"difference\s+between\b|diff[ée]rence\s+entre\b|diferencia\s+entre\b|"
            r"unterschied\s+zwischen\b|区别|不同"
        ),
        "asks for a difference",
    ),
    Signal(
        "show_work",
        1.5,
        rx(
            r"show\s+(?:your|the|all)?\s*(?:reasoning|steps|work|math|calculations?)\b|"
            r"reason\s+step\s+by\s+step\b|solve\s+(?:this|for|the)\b"
        ),
        "multi-step problem",
    ),
    Signal(
        "plan",
        1.0,
        rx(
            r"\d+-(?:week|day|month)\s+(?:\w+\s+)?plan\b|plan\b|strategy\b|recommend|advice\b|"
            r"plan(?:ifica|ifie)|plane\b|计划|规划"
        ),
        "asks for a plan or advice",
    ),
    Signal(
        "data_task",
        1.5,
        rx(
            r"(?:compute|calculate|tabulate)\s+(?:\w+\s+){0,3}?(?:totals?|averages?|means?|"
            r"medians?|statistics|stats|per|each|monthly|weekly|growth)\b|pivot\b"
        ),
        "data processing task",
    ),
)

# Signals of a simple request, looked for in the last sentences of the task only.
SIMPLE_SIGNALS = (
    Signal(
        "definition",
        -2.0,
        rx(
            r"what\s+(?:does|do|did)\s+.{1,40}\s+(?:mean|stand\s+for)\b|stands?\s+for\b|"
            r"what\s+.{1,30}\s+means\b|what\s+is\s+meant\s+by\b|"
            r"meaning\s+of\b|definition\s+of\b|define\b|pronounce\b|spell(?:ed|ing)?\b|"
            r"synonyms?\b|antonyms?\b|plural\s+of\b|one\s+word\s+or\b|hyphen\b|"
            r"que\s+signifie|qu'?est-ce\s+que\b|qu[ée]\s+significa|was\s+bedeutet\b|"
            r"什么意思|的意思"
        ),
        "asks what a word means",
    ),
    Signal(
        "brief",
        -1.0,
        rx(
            r"in\s+(?:one|a\s+single|1|a)\s+(?:sentence|line|word)\b|one\s+sentence\b|"
            r"short\s+answer\b|yes\s+or\s+no\b|just\s+(?:yes|no|tell\s+me|the)\b|"
            r"in\s+simple\s+terms\b|r[ée]ponse\s+courte\b|une\s+ou\s+deux\s+phrases\b|"
            r"kurz\b|respuesta\s+corta\b|简单说|一句话"
        ),
        "asks for a short answer",
    ),
    Signal(
        "lookup",
        -1.0,
        rx(
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
    Signal(
        "convert",
        -1.0,
        rx(
            r"convert\s+[\d.,]+|how\s+many\s+\w+\s+(?:are\s+)?in\s+(?:a|an|one|\d)|"
            r"\d+(?:\.\d+)?\s*%\s+of\s+\d|sqrt\b|\d+\s*(?:times|plus|minus|divided\s+by|"
            r"[x×*/+-])\s*\d+\b|to\s+the\s+power\s+of\b|in\s+(?:feet|inches|km|kilometers|"
            r"miles|minutes|hours|celsius|fahrenheit|grams|ounces|pounds|cups|ml|liters)\b|"
            r"as\s+a\s+(?:decimal|fraction|percentage)\b|combien\s+de\b|wie\s+viele?\b"
        ),
        "conversion or short arithmetic",
    ),
    Signal(
        "which_is_bigger",
        -1.0,
        rx(
            r"which\s+(?:one\s+)?is\s+(?:smaller|bigger|larger|greater|higher|lower|more|less|"
            r"heavier|lighter|longer|shorter|older|younger|faster|slower|closer|farther)\b"
        ),
        "compares two values",
    ),
    Signal(
        "translate_short",
        -1.0,
        rx(
            r"(?:translate|traduce|traduis|traduire|[üu]bersetze?)\b[^.?!\n]{0,60}$|"
            r"how\s+(?:do|would)\s+you\s+say\b|翻译成|翻成"
        ),
        "translate a phrase",
    ),
    Signal(
        "chit_chat",
        -2.0,
        rx(
            r"^\W*(?:hi+|hello|hey|hiya|good\s+(?:morning|evening|afternoon|night)|thanks?|"
            r"thank\s+you|thx|cheers|bye|hola|bonjour|salut|hallo|你好|谢谢)\b[^?]{0,40}$|"
            r"joke\b|favou?rite\s+\w+\b|fun\s+fact\b|name\s+ideas?\b|(?:suggest|recommend|give\s+me|"
            r"come\s+up\s+with|pick)\s+(?:a|an|some|\d+|three|five)?\s*(?:good\s+|funny\s+|cute\s+)?"
            r"(?:\w+\s+)?names?\b"
        ),
        "chit-chat",
    ),
    Signal(
        "short_creative",
        -1.5,
        rx(
            r"(?:write|give|tell|make|suggest|come\s+up\s+with)\s+(?:me\s+)?(?:a|an|one|some|"
            r"\d|two|three|four|five)?\s*(?:short\s+|quick\s+|funny\s+|cute\s+|catchy\s+)?"
            r"(?:joke|haiku|pun|slogan|tagline|title|name|nickname|caption|limerick|riddle|"
            r"sentence|tweet|toast\s+line)s?\b"
        ),
        "a very short piece of writing",
    ),
    Signal(
        "trivial_code",
        -2.0,
        rx(
            r"what\s+(?:does|will|would)\s+(?:this|it|the\s+following)\s+(?:print|output|"
            r"return|display)\b|what\s+(?:programming\s+)?language\s+is\s+this\b|"
            r"what\s+does\s+`code`\s+do\b|what\s+does\s+this\s+(?:command|flag)\s+do\b"
        ),
        "trivial question about a snippet",
    ),
    Signal(
        "doc_lookup",
        -1.5,
        rx(
            r"(?:what|which|who|when|where)\b.{0,30}\b(?:title|name|date|author|headline|subject|"
            r"year|number|address|price|deadline|day|time|amount|total|phone|version|location|venue)\b"
            r".{0,40}\?|"
            r"main\s+(?:finding|result|point|idea)\b|headline\s+result\b|"
            r"what\s+did\s+they\s+find\b|r[ée]sultat\s+principal\b"
        ),
        "looks up one detail in a text",
    ),
)
