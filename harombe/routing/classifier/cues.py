"""Closed word lists per task family: how a request says what it asks for.

Each family is a handful of verbs and phrases of asking ("prove", "design", "compare",
"summarise"...) in English, Spanish, French, German, Italian, Portuguese and Chinese (and, from
`languages.py`, the commonest of them in some twenty more languages), matched as word starts
in the lower-cased instruction. They name kinds of task, never topics: the classifier's weights
(`weights.py`) decide what each family is worth. All families are scanned at once (`scan.py`),
so the instruction is read once. Also here: the other closed lists
of the task's content (quantities, inputs, maths, systems to build, list items); how a question
is phrased is in `shapes.py`.
"""

from __future__ import annotations

import functools
import re
from collections import Counter

from harombe.routing.classifier.languages import MORE_LANGUAGES
from harombe.routing.classifier.scan import CueScanner

_WORDING = r"(?:the |my |this )?(?:grammar|spelling|typos?|punctuation|wording)"
"""What "fix ..." means when it asks for a rewrite, not a debugging: "fix the grammar"."""

FAMILIES: dict[str, tuple[str, str]] = {
    # name: (word starts, matched after a word boundary; CJK fragments, matched anywhere)
    "design": (
        r"how (?:would (?:you|u)|should (?:we|i)) "
        r"(?:build|design|architect|scale|structure|set up|go about)|"
        r"c[oó]mo (?:har[ií]as|montar[ií]as|dise[nñ]ar[ií]as|construir[ií]as|organizar[ií]as)\b|"
        r"comment (?:organiseriez|concevriez|construiriez|feriez|structureriez)-vous|"
        r"como (?:voc[eê] )?(?:faria|montaria|organizaria|construiria)s?\b|"
        r"(?<!the )(?<!study )(?<!graphic )"
        r"(?<!web )(?!(?<=, )design[,)])design(?!er| studio| agency| firm| school| question|"
        r" org\b| organi[sz]ation|"
        r"(?: (?:me|us))?(?: (?:a|an|the|my|our))?(?: [\w-]+){0,2} "
        r"(?:plan|schedule|routine|workout|menu|logo|poster|flyer|card|itinerary|label|name|title|"
        r"subject line|slogan|tagline|headline|sign|banner)s?"
        r"(?=$|[^\w\s-]|\s+(?:for|with|to|that|and|or|in|on|of|which|so|but|i|we)\b))|"
        r"architect(?!s?\b)|architect (?:a|an|the|this|it|our|my)\b|"  # not the architect
        r"p9[59]\b|p99\.9|(?:zero|no)[- ]downtime|without (?:any )?downtime|"
        r"high[- ]availability|fault[- ]toleran|"
        r"no (?:data|write|message) loss|"
        r"survives? (?:a|an|the|any) (?:[\w-]+ ){0,2}(?:outage|failure|partition)|"
        r"formulat\w* (?:(?:this|it|the problem) )?as (?:an? )?(?:[\w-]+ ){0,2}"
        r"(?:model|program|problem)|"
        r"diseñ|arquitectura|conçoi|concevoir|concevez|entwirf|entwerf|architektur|"
        r"progett(?:a|are|ate|azione)\b|architettur|projete|projetar|arquitetur",
        "设计|架构|設計",
    ),
    "prove": (
        r"prove(?!e| to (?:me|my|the|our|him|her|them|you|a|an)\b)|"  # "prove to my boss": convince
        r"(?:an?|the|formal|rigorous|your) (?!(?:sour)?dough |bread )(?:\w+ ){0,2}"
        r"proof(?!ing| longer)|"
        r"proof (?:that|of (?:the|this|why))|"
        r"with (?:a |full |formal )?proofs?\b|proof,? (?:please|pls)\b|"
        r"(?:both|these|those|two|three|all|the) proofs\b|"
        r"argue (?:rigorously |formally |carefully )?(?:that|why)\b|"
        r"(?:rigorous|formal) argument|"
        r"derive|dimostr|demostr|demonstre|demonstrar|"
        r"derivation|show that|deduc(?!t(?!ions?\b))|demuestr|prueba que|démontr|prouve|"
        r"montrez? qu|"
        r"show (?:the |every |all |no |each )?[\w-]+ (?:is|are) (?:not )?"
        r"[\w-]+(?:able|ible|ite|ous|al)\b|"  # "show the reals are uncountable"
        r"preuve|beweis|zeige,? dass|leite .{0,20}her|find all|determine all|for which|"
        r"encuentra todos|trouve[rz]? tous|finde alle",
        "证明|推导|証明",
    ),
    "synthesise": (
        r"synthes|across (?:all|them|these|those|every|each|several|multiple)|"
        r"across (?:the )?(?:services|systems|teams|sources|documents|reports|papers|studies)|"
        r"(?<!most )(?<!more )common (?:patterns?|themes?|gaps?|issues?|problems?|threads?|"
        r"findings?|causes?|ground)(?= (?:[\w-]+ ){0,4}?(?:across|among|between|"
        r"(?:in|of|from) (?:these|those|the|all|our|my|each)))|"  # ... of several sources
        r"(?:find|identify|spot|highlight|list) (?:the )?(?:common|shared|recurring)|"
        r"(?:research|knowledge|evidence) gaps?|"
        r"(?:identify|find|spot|highlight|map) (?:the |any )?gaps|"
        r"gaps? in the (?:literature|research|evidence)|"
        r"(?:what|which) gaps|in common|recurring|conflicting|consolidat|"
        r"(?<!bank )(?<!account )reconcil|reconstruct|contradi|m[eé]ta-?an[aá]l|literature|"
        r"síntesis|sintetiz|synthès|"
        r"systematic review|revisión sistemática|revue systématique|revisão sistemática|"
        r"lacunas?\b|padr[õo]es comuns|patrones comunes|points communs|"
        r"sintesi|síntese",
        "综合|归纳|文献|分歧",
    ),
    "plan": (
        r"plan\b(?! \d| (?:pays|covers|says|includes|allows)\b)|plans\b|"  # "plan pays": a thing
        r"planning(?! application| permission| department| office| consent)|"
        r"roadmap|programme|strategy|itinerary|timeline|milestone|propose\b|"
        r"schedule|curriculum|planific|planifi|planung|zeitplan|calendrier|cronograma|"
        r"pianific|planej",
        "计划|规划|日程|制定|战略|策略|計画|旅程|予定表|スケジュール",
    ),
    "research": (
        r"research (?:plan|program|programme|agenda|design|proposal|questions?|study)|"
        r"hypothes|methodolog|(?:plan|programa|proyecto) de investigación|"
        r"(?:plan|programme|projet) de recherche|forschungs(?:plan|design|frage|programm)|"
        r"plano de pesquisa|projeto de pesquisa|(?:projeto|plano) de investigação|"
        r"(?:piano|progetto) di ricerca",
        "研究计划|研究方案|研究设计|研究假设",
    ),
    "scale": (
        r"migra[tcrzç]|refactor(?! (?:this|it|that|my function|the function)\b)|monolith|codebase|"
        r"(?:whole|through the|across the) (?:repo|repository|project|codebase|monorepo)\b|"
        r"end[- ]to[- ]end|complete(?!ly| example)|"
        r"comprehensive|entire|"
        r"million|billion|thousands|"
        r"(?:every|all(?: the)?) (?:module|file|service|test|call site|repo|repositor(?:y|ie)|"
        r"package)s?\b"
        r"(?! (?:is|are|has|have|was|gets))|"
        r"(?<!jornada )(?<!tiempo )(?<!tempo )(?<!ejemplo )(?<!exemplo )completo|"
        r"(?<!jornada )(?<!ejemplo )(?<!exemplo )(?<!exemple )"
        r"complet(?!e?ly|e example|a[td][oaie]s?\b)|"
        r"from scratch|desde cero|do zero\b|à partir de zéro|"
        r"production[- ]ready|full[- ]featured|fully[- ]functional|"
        r"vollständig|komplett|gesamte|intero|inteiro|millon|milion|milhõ",
        "完整|全面|千万|百万",
    ),
    "assumptions": (
        r"assumptions|(?<!price )(?<!the )assumption(?! (?:is|was)\b)|scenario|"
        r"sensitivity analys|threat(?!en)|supuest|escenario|"
        r"hypothèse|scénario|annahme|szenario|ipotes|scenari|hipótes|cenári",
        "情景",
    ),
    "compare": (
        r"compar|compár|rank (?:these|them|those|the|my|our|all|each|every)\b|ranking|prioriti[sz]|"
        r"versus|vs\b(?! code)|pros (?:and|&|/) ?cons|pros/cons|trade-?offs?|"
        r"weigh|better|which is (?:best|better)|"
        r"what you'?d (?:pick|choose)|which (?:one )?(?:should|would)|"
        r"should i (?:buy|use|choose|pick|go)|or should|vergleich|comparez|compara|ventajas|"
        r"confront|paragon|pro e contro|prós e contras|pros y contras|gegenüberstell|"
        r"avantages|vor- und nachteile|vantaggi|vantagens",
        "比较|对比|利弊|优缺点|比較",
    ),
    "write": (
        r"write|draft|compose|create|generate|put together|come up with|redo\b|rework|"
        r"make (?:(?:me|us) (?:an?|\d+|some|a few)|\d+|a few|two|three|four|five|six|seven|eight|"
        r"nine|ten)\b(?! (?:list|decision|mistake|difference|change|call|choice)s?\b)|"
        r"escrib|redact|formulier|"
        r"rédig|écri|schreib|verfass|erstell|scriv|escrev|redig",
        "写|起草|撰写|编写|整理成|書いて|作って|作成",
    ),
    "code_deliverable": (
        r"(?<!loss )(?<!cost )(?<!activation )(?<!objective )(?<!density )(?<!wave )(?<!utility )"
        r"function|script|query|regex|regular expression|class\b|program\b|unit tests?|tests\b|"
        r"macro\b|implement|snippet|vectori[sz]\w*|función|fonction|funktion|programm|funzion|funç",
        "函数|脚本|程序",
    ),
    "analyse": (
        r"summar|analy[sz]|critiq|r[ée]capitul|riepilog|"
        r"build (?:a |an )?(?:[\w-]+ )?(?:model|regression)\b|"
        r"extract(?! (?:below|above)\b)|assess|evaluat(?!e to|es to|ing to)|"
        r"(?<!lit )(?<!literature )review(?!ers?\b|s\b)|proofread|improve|edit\b|"
        r"key points|checklist|turn (?:this|that|it|these|those) into|"
        r"resum|résum|zusammenfass|analys|"
        r"bewert|évalu|evalú|riassum|analizz|valut|analis|avali|revis(?:a|ar|e|em)\b|révis|"
        r"rivedi|tl;?dr\W*(?:please|pls|plz)?\W*$",
        "总结|汇总|分析|概括|评估|要約",
    ),
    "debug": (
        rf"debug|fix(?! {_WORDING})|"
        r"bugs?\b|buggy|what'?s wrong|what'?s (?:\w+ ){0,2}going on|what is going on|"
        r"(?:am i|are we|is it) doing wrong|did i do wrong|"
        r"broken(?! (?:by|down|into|up))|segfault|traceback|stack trace|exception|"
        r"doesn'?t work|"
        r"error|hangs|crash|race|leak|"
        r"(?:type|value|key|index|attribute|name|runtime|syntax|reference|import|recursion|"
        r"assertion|zerodivision|memory|overflow|nullpointer|illegalargument|illegalstate|"
        r"classcast|arrayindexoutofbounds|concurrentmodification|filenotfound|stackoverflow|"
        r"outofmemory)(?:error|exception)|"
        r"arregl|corrige|répare|behebe|fehler|correggi|sistem(?:o|a|are)\b|errore|corrija|"
        r"conserte",
        "修复|错误|调试",
    ),
    "explain": (
        r"explain|describe|how does|how do(?! (?:you|i|we) (?:say|pronounce|spell))|how can|why|"
        r"walk me through|teach(?!er|i)|illustrate|"
        r"explica|expliqu|erklär|beschreib|pourquoi|por qué|warum|spieg|perché|por que\b|"
        r"come funziona|como funciona",
        "解释|说明|为什么|怎么|説明",
    ),
    "depth": (
        r"in depth|in detail|detailed|step by step|with (?:an |a )?examples?|worked example|"
        r"example|analogy|thorough|rigorous|justify|"
        r"show (?:your|the|all|each|every) (?:reasoning|steps?|work|working)\b|"
        r"reason step by step|step-by-step|en detalle|en détail|ausführlich|"
        r"exemple|ejemplo|beispiel|in dettaglio|esempi|em detalhe|exemplo",
        "详细|例子|举例",
    ),
    "transform": (
        r"translat|rephrase|reword|rewrite|paraphrase|"
        rf"fix {_WORDING}|"
        r"shorten|shorter|simplify|convert(?!ing)|spell|"
        r"plural|synonym|antonym|pronounce|how do you say|make (?:this|it) sound|rename|"
        r"more (?:formal|polite|casual|professional)|less formal|traduc|"
        r"tradui|tradu[zr]|übersetz|umformulier|freundlicher|höflicher|reescrib|"
        r"réécri|riscriv|reescrev",
        "翻译|改写|换算|翻訳",
    ),
    "enumerate": (
        r"list\b|make (?:me )?a list\b|name (?:a |an |one |two |three |four |five |\d|some |the )|"
        r"give me (?:a few|\d|some)|enumera|nenne|cite\b|elenc|liste\b",
        "列出|列举",
    ),
    "meaning": (
        r"(?:what|que|does|do|did)\b[^.?!,]{0,40}?\bmean\b(?! for)|"  # not "could mean for us"
        r"what\b[^.?!,]{0,40}?\bmeans\b(?! for)|"
        r"mean by\b|meaning|definition|define(?! how)|stand for|stands for|significa|signifie|"
        r"bedeutet|bedeutung",
        "意思|定义|含义",
    ),
    "greeting": (
        r"hi\b|hello|hey\b|good (?:morning|evening|afternoon)\b|"
        r"(?<![a-z,] )(?:morning|evening|afternoon)\b|thanks|thank you|cheers|"
        r"happy (?:new year|birthday|holidays|friday)|merry|congrat|hola\b|bonjour|"
        r"salut\b|hallo|guten (?:morgen|tag)|ciao|buongiorno|grazie|olá|obrigad|bom dia|danke|"
        r"merci\b|gracias|schönes wochenende|bon (?:week-end|weekend)|buen fin de semana",
        "你好|谢谢",
    ),
    "constraint": (
        r"must|without|at most|at least|no more than|only\b|budget|deadline|minimum|maximum|"
        r"within|under\b|never|exactly|limit|no \w+ (?:within|before|after)|"
        r"debe|sin\b|doit|sans\b|muss|ohne|höchstens|mindestens|deve\b|senza|almeno|sem\b|"
        r"pelo menos",
        "必须|不超过|至少|预算|以内|予算",
    ),
    "sequence": (
        r"and then|then\b|also\b|finally|after that|next,|luego|después|ensuite|puis|dann\b|"
        r"danach|außerdem|poi\b|inoltre|depois|também",
        "然后|接着|最后|并且",
    ),
}
for _name, (_latin, _cjk) in MORE_LANGUAGES.items():
    _base_latin, _base_cjk = FAMILIES[_name]
    FAMILIES[_name] = (f"{_base_latin}|{_latin}", f"{_base_cjk}|{_cjk}")
FAMILY_NAMES = tuple(FAMILIES)
ASK_FAMILIES = tuple(n for n in FAMILY_NAMES if n not in ("research", "constraint", "sequence"))
"""The families that are a feature each (research only counts towards `HARD`; constraints
and multi-part markers are counted)."""
WORK = ("design", "prove", "synthesise", "plan", "research", "compare", "write",
        "code_deliverable", "analyse", "debug", "explain")  # fmt: skip
"""The families that ask for a piece of work (the others describe its shape or size)."""
SAME_WORK = {"code_deliverable": "write"}
"""Families that name one piece of work together: "write a function" is one task."""
BRIEF_ASKS = frozenset({"explain"})  # what an answer of one sentence can still be asked to do
SHAPING = ("depth", "enumerate")  # families that shape an answer asked for: examples, a list
HARD = ("design", "prove", "synthesise", "research")  # the rubric's tier-2 kinds of task
PRODUCING = (*WORK, "transform")  # ... or for something to be done to a text

CUES = CueScanner(FAMILIES)
"""Every family's words, matched as `scan.reference_pattern(FAMILIES)` would match them."""

NUMBER_RE = re.compile(  # quantities; a year ("1991") is a date, not one to compute with
    r"(?<![\w.])(?!(?:1[5-9]|20)\d\d\b)\d[\d,]*(?:\.\d+)?|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|"
    r"twelve|fifteen|twenty|hundred|thousand|twice|half|double|dozen)\b"
)
MANY_RE = re.compile(
    r"(?:\b(?:[3-9]|\d{2,}|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
    r"tres|três|trois|drei|cuatro|quatro|quatre|vier|cinco|cinq|fünf|seis|sechs|siete|sete|"
    r"sept|sieben|ocho|oito|huit|acht|diez|dez|dix|zehn|estos|estes|estas|ces|diese|todos|"
    r"todas|tous|toutes|alle|"
    r"twenty|dozens?|several|many|multiple|all|every|each|these|those|our|the)\s+"
    r"(?:[\w-]+\s+){0,2}?"
    r"(?:papers|studies|reports|documents|files|articles|transcripts|interviews|proposals|"
    r"sources|trials|postmortems|memos|logs|modules|services|repositories|chapters|datasets|"
    r"contracts|vendors|reviews|surveys|summaries|notes|questionnaires|responses|essays|"
    r"submissions|applications|abstracts|excerpts|guidelines|policies|emails|tickets|threads|"
    r"quotes|versions|drafts|estudios|estudos|études|studien|artículos|artigos|artikel|"
    r"documentos|dokumente|informes|relatórios|rapports|berichte|contratos|contrats|verträge)\b)|[三四五六七八九十几多][篇份个]"
)
MATH_RE = re.compile(
    r"[≥≤≠√∑∏∫∞ℝℕℤℚ⁴ⁿ→∀∃≡]|[²³](?<!\bm.)(?<!\bcm.)(?<!\bmm.)(?<!\bkm.)(?<!\bft.)(?<!\bin.)|"
    r"\b[a-z](?:\([a-z]\)|_\{?\w|\s*[<>=]\s*\w)|\^\w|\bn!"  # each test after its first character
)
MATH_TERMS_RE = re.compile(
    r"\b(?:integers?|real numbers?|reals|such that|primes?|divisible|modulo|polynomials?|"
    r"variance|asymptotic\w*|recurrences?|permutations?|expected value|"
    r"inequalit(?:y|ies)|sequences?|converges?|irrational|subsets?|theorem|lemma|"
    r"equations?|solutions?|vertices|edges|infinitely)\b|整数|素数|方程"
)
SYSTEM_RE = re.compile(  # "write a compiler", "implement a B+ tree storage engine": a system
    r"\b(?:build|implement|write|create|develop|code|make|construi|implementa|écri[st]|baue|"
    r"entwickle|implementiere|schreibe?)\w*,?\s+(?:me\s+|us\s+)?(?:[\w+#/-]+,?[\s-]){0,5}?"
    r"(?:engine|emulator|(?:text |code )?editor|renderer|compiler|interpreter|database|"
    r"key-value store|kv store|kernel|operating system|file ?system|runtime|virtual machine|"
    r"consensus|paxos|raft|debugger|browser|orchestrator|motor|moteur|compilateur|compilador|"
    r"intérprete|datenbank|simulator|simulador|simulateur|plugin|plug-in)\b|"
    r"(?:实现|构建|开发|编写|写)[^。，]{0,20}(?:引擎|编译器|解释器|数据库|模拟器|操作系统|内核)"
)
LEAD_RE = re.compile(r"(?:[^,:.?!]{1,30}[,:]|then|also|now|and|so|finally|next)\s+")
"""What may come before the task word of a request: "Also, summarise it", "Briefly: design"."""
LIST_LINE_RE = re.compile(r"^\s*(?:[-*•|]|\d+[.)])\s", re.M)
ITEM_SEP_RE = re.compile(r"(?<!\d)[,:]|[,:](?!\d)|[;，；、]")  # not "3:30", "2,340"


_SUBJECT_RE = re.compile(r"\w*\s+(?:is|are|was|were|has|have|had|will|can|may)\b")
"""A task word that is a sentence's subject ("Analyses were performed in R"): no request."""
_PAST_RE = re.compile(r"(?:[a-z]*?e?d|n)\b")  # the rest of a past form: design|ed, prove|n
# (not "-en": German and Dutch infinitives, "übersetz|en", "vergleich|en", ask for the work)
_MENTION_RE = re.compile(  # "the past participle of prove", "the word 'design'"
    r"\b(?:participle|tense|form|spelling|plural|synonym|antonym|word|verb|term)(?: of)? $"
)
_NEGATION_RE = re.compile(  # "don't need a fix", "a whole design": a piece of work declined
    r"\b(?:no|not|without|(?:do ?n'?t|do not) (?:need|want))"
    r"(?: an?| any| the)?(?: whole| full| big)? $"
)
_DOING_RE = re.compile(r"\b(?:i'?m|i am|we'?re|we are|i'?ve been|we'?ve been) $")
"""Before a cue that goes on "-ing": what the writer is doing ("I'm designing my first
experiment"), not what they ask for."""
_HEADING_RE = re.compile(  # "Summary: the outage ...": a pasted text's heading, not a request
    r"(?:summary|analysis|assessment|evaluation|overview|timeline|roadmap|strategy|synthesis|proof):"
)
_TOPIC_RE = re.compile(r"\w*,? (?:question|q)\b")
"""After a cue: "Strategy question: top shelf or bottom?" names a topic, asks for no strategy."""
_DEFINITE_RE = re.compile(  # "what date does the new schedule start?": a thing there, no request
    r"\b(?:the|our|my|this|that|your|their|his|her|its)"
    r"(?: (?:new|current|next|old|latest|revised|updated|final|draft|weekly|monthly|"
    r"annual|same))? $"
)
NOUN_FAMILIES = frozenset({"plan"})
"""Families whose word after a definite determiner names a thing there ("check the schedule"),
not one asked for."""
MENTION_CHARS = 24  # how far before a cue `_MENTION_RE`, `_NEGATION_RE`, `_DEFINITE_RE` look


SCANS_CACHED = 256
"""How many texts' cues `_asked` remembers: a classification reads the same sentence several
times (as a sentence, as the closing question, as a remark), and the scan is its main cost."""


@functools.lru_cache(maxsize=SCANS_CACHED)
def _asked(low: str) -> tuple[str, ...]:
    """The family of each cue in `low`, except verbs in the past tense ("who designed it?"
    asks for a fact, not a design), words mentioned ("the past participle of prove"), work
    declined ("don't need a fix"), a topic named ("strategy question: ...") and a plan that is
    there already ("check the schedule")."""
    found = []
    for m in CUES.finditer(low):
        rest = _PAST_RE.match(low, m.end())
        if not m.lastgroup or (rest and rest.end() - m.end() <= 2 and m.group()[-1].isalpha()):
            continue
        before = max(0, m.start() - MENTION_CHARS)
        gerund = m.group().endswith("ing") or low.startswith("ing", m.end())
        doing = gerund and _DOING_RE.search(low, before, m.start())
        if not (
            doing
            or _TOPIC_RE.match(low, m.end())
            or _MENTION_RE.search(low, before, m.start())
            or _NEGATION_RE.search(low, before, m.start())
            or (m.lastgroup in NOUN_FAMILIES and _DEFINITE_RE.search(low, before, m.start()))
        ):
            found.append(m.lastgroup)
    return tuple(found)


def forget_scans() -> None:
    """Empty `_asked`'s memory (a benchmark times cold reads with it)."""
    _asked.cache_clear()


def opens_with_cue(low: str) -> bool:
    """Whether lower-cased text `low` opens with a family's word: "write ...", "compare ..."."""
    return CUES.match(low) is not None


def opens_with_work(low: str, also: tuple[str, ...] = ()) -> bool:
    """Whether lower-cased text `low` opens with a word of a family in `PRODUCING` (or in
    `also`), at its start or after a short lead (`LEAD_RE`), as a request: not as the subject
    of a sentence ("Analyses were ...") nor as a heading ("Summary: ...")."""
    lead = LEAD_RE.match(low)
    for at in (0, lead.end()) if lead else (0,):
        m = CUES.match(low, at)
        if m is not None and (m.lastgroup in PRODUCING or m.lastgroup in also):
            heading = _HEADING_RE.match(low, m.start())
            return _SUBJECT_RE.match(low, m.end()) is None and heading is None
    return False


def cue_counts(low: str) -> Counter[str]:
    """How often each family's words occur in lower-cased text `low` (one scan)."""
    return Counter(_asked(low))


def asks_for_work(low: str, also: tuple[str, ...] = ()) -> bool:
    """Whether lower-cased text `low` has a word of a family in `PRODUCING` (or in `also`)."""
    return any(family in PRODUCING or family in also for family in _asked(low))
