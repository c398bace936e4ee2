"""The task families' commonest words in the languages beyond those of `cues.FAMILIES`:
Russian, Ukrainian, Polish, Czech, Hungarian, Turkish, Dutch, Swedish, Korean, Arabic, Persian,
Welsh, Swahili, Somali, Amharic, Hindi, Urdu, Romanian, Vietnamese, Tagalog, Malay and
Indonesian, Greek and Hebrew (and German's split verb "fasse ... zusammen"). `cues` joins each
family's words to its own, in the same two parts: word starts, and CJK fragments matched anywhere.
"""

MORE_LANGUAGES: dict[str, tuple[str, str]] = {
    "design": (
        r"hogyan (?:építenél|terveznél|alakítanál)|tervezd meg|reka bentuk|rancang|طراحی|ንድፍ|"
        r"thiết kế|idisenyo|спроєкт|σχεδίασ|σχεδιάσ|תכנן|תכנני|עצב|איך היית בונה|navrhni|"
        r"navrhněte|dylunio|dyluniwch|buni\b|kubuni|naqshee|डिज़ाइन|डिजाइन|proiecteaz|proiecta\b|"
        r"cum ați (?:proiecta|construi|organiza|stabili)|صمّ?م|تصميم|спроектир|проектировани|"
        r"архитектур|zaprojektuj|tasarla|mimari|ontwerp|utforma|designa",
        "설계|아키텍처",
    ),
    "prove": (
        r"bizonyítsd|bizonyítás|buktikan|ثابت کن|اثبات کن|chứng minh|patunayan|доведи|доведіть|"
        r"απόδειξ|αποδείξ|הוכח|dokaž|dokažte|profwch|profi bod|prawf|thibitisha|caddee|"
        r"सिद्ध कीजिए|सिद्ध करें|सिद्ध करो|demonstrează|ثابت کریں|أثبت|اثبت|برهن|докаж|"
        r"доказательств|udowodnij|wykaż|dowód|kanıtla|ispatla|bewijs|toon aan dat|bevisa",
        "증명",
    ),
    "synthesise": (
        r"összegez|tổng hợp|узагальн|σύνθεσ|syntheseiddio|تحليل تلوي|обобщ|синтез|syntez|sentez|"
        r"syntes",
        "종합",
    ),
    "plan": (
        r"tervet|ütemterv|pelan|rencana|برنامه‌ریزی|برنامه ریزی|እቅድ|kế hoạch|lịch trình|plano\b|"
        r"σχέδιο δράσης|χρονοδιάγραμμα|תוכנית|לוח זמנים|harmonogram|cynllun(?! ymchwil)|amserlen|"
        r"mpango(?! (?:kamili )?wa utafiti)|ratiba|qorshe(?! cilmi)|jadwal|योजना|منصوبہ|خطة|"
        r"جدول زمني|план\b|планир|расписани|planı|planla",
        "계획",
    ),
    "research": (
        r"kutatási terv|pelan penyelidikan|rencana penelitian|طرح پژوهش|የምርምር እቅድ|cynllun ymchwil|"
        r"mpango (?:kamili )?wa utafiti|qorshe cilmi|cilmi-baaris|शोध योजना|अनुसंधान|"
        r"plan de cercetare|план исследовани|plan badań|araştırma planı|araştırma tasarımı|"
        r"onderzoeksplan|onderzoeksopzet|forskningsplan",
        "연구 계획|연구계획",
    ),
    "scale": (
        r"lengkap\b|teljes\b|toàn bộ|kompletní|celou aplikaci|ολοκληρωμέν|eksiksiz|tüm proje|"
        r"миграц|рефактор|migracj|refaktor|migratie|volledig|migrer|fullständig",
        "마이그레이션|리팩터",
    ),
    "compare": (
        r"hasonlítsd|bandingkan|مقایسه|so sánh|ikumpara|paghambingin|порівня|σύγκρινε|σύγκριση|"
        r"השווה|השוואה|porovnej|porovnání|cymharwch|cymharu|linganisha|isbarbardhig|तुलना|موازنہ|"
        r"قارن|مقارنة|сравн|porówn|karşılaştır|vergelijk|jämför",
        "비교|장단점",
    ),
    "write": (
        r"írj\b|írd meg|sediakan|tuliskan|buatkan|بنویس|ጻፍ|viết|isulat|sumulat|γράψε|γράψτε|כתוב|"
        r"כתבי|napiš|napište|ysgrifennwch|lluniwch|drafftiwch|andika|andaa|qor\b|qoro\b|लिखिए|"
        r"लिखें|लिखो|لکھ|scrie|redactează|yazar mısın|yazın|yaz\b|اكتب|أكتب|напиш|составь|сочини|"
        r"napisz|zredaguj|schrijf|skriv",
        "작성|써 주|써줘",
    ),
    "code_deliverable": (r"функци|скрипт|funkcj|skrypt|fonksiyon|functie", "함수|스크립트"),
    "analyse": (
        r"foglald össze|összefoglal|elemezd|ringkaskan|rumuskan|خلاصه کن|تحلیل کن|tóm tắt|"
        r"phân tích|ibuod|buod|підсумуй|проаналізуй|περίληψη|ανάλυσ|סכם|סיכום|נתח|shrň|shrnutí|"
        r"analyzuj|crynhowch|crynodeb|dadansodd|muhtasari|fupisha|chambua|uchambuzi|soo koob|"
        r"falanqee|सारांश|विश्लेषण|خلاصہ|rezumă|rezumat|analizează|لخّ?ص|تلخيص|حلّ?ل|تحليل|قيّ?م|"
        r"проанализир|анализ|резюмир|перескаж|кратко излож|przeanalizuj|streść|podsumuj|oceń|"
        r"özetle|değerlendir|samenvat|vat\b[^.?!]{0,60}\bsamen\b|analyseer|beoordeel|sammanfatta|"
        r"analysera|utvärdera|fass(?:e|t|en)?\b[^.?!]{0,60}\bzusammen\b",
        "요약|분석|평가",
    ),
    "debug": (
        r"أصلح|اصلح|خطأ|исправ|ошибк|отлад|napraw|popraw|błąd|błęd|düzelt|hata|repareer|"
        r"foutmelding|fixa|felet",
        "오류|에러|버그|디버그",
    ),
    "explain": (
        r"magyarázd|terangkan|jelaskan|توضیح بده|አስረዳ|giải thích|ipaliwanag|поясни|поясніть|"
        r"εξήγησ|εξηγήσ|הסבר|הסבירי|vysvětli|vysvětlete|esboniwch|eglurwch|eleza|fafanua|sharax|"
        r"समझाइए|समझाओ|سمجھا|explică|اشرح|لماذا|كيف|объясн|почему|как работает|wyjaśnij|wytłumacz|"
        r"dlaczego|jak działa|açıkla|neden\b|leg\b[^.?!]{0,40}\buit\b|uitleg|waarom|hoe werkt|"
        r"förklara|varför|hur fungerar",
        "설명|왜",
    ),
    "depth": (
        r"بالتفصيل|مثال|أمثلة|подробн|пример|szczegółow|przykład|ayrıntılı|detaylı|örnek|"
        r"gedetailleerd|voorbeeld|detaljerat|ingående|exempel",
        "자세히|예시|예를",
    ),
    "transform": (
        r"fordítsd|hogy mondják|terjemahkan|ተርጉም|dịch\b|isalin|paano sabihin|перекла|μετάφρασ|"
        r"תרגם|תרגמי|přelož|cyfieithwch|cyfieithu|tafsiri|turjun|tarjun|अनुवाद|ترجمہ|tradu\b|"
        r"cum se spune|ترجم|أعد صياغة|переведи|перевод|перефразир|przetłumacz|çevir|vertaal|"
        r"översätt",
        "번역",
    ),
    "enumerate": (r"перечисл|назови|wymień|listele|noem|nämn", "나열"),
    "meaning": (
        r"mit jelent|maksud|artinya|یعنی چه|nghĩa là|ibig sabihin|означає|σημαίνει|מה פירוש|"
        r"význam|znamená|ystyr|maana ya|macnaha|मतलब|अर्थ\b|مطلب|înseamnă|معنى|ماذا يعني|означает|"
        r"значит|значение|znaczy|oznacza|znaczenie|anlamı|ne demek|betekent|betekenis|betyder|"
        r"betydelse",
        "뜻|의미",
    ),
    "greeting": (
        r"szia\b|köszönöm|terima kasih|selamat pagi|سلام|ممنون|xin chào|cảm ơn|salamat|дякую|"
        r"καλημέρα|καλησπέρα|ευχαριστώ|תודה|בוקר טוב|děkuji|dobrý den|bore da|diolch|shwmae|"
        r"habari|asante|shikamoo|mahadsanid|iska warran|नमस्ते|धन्यवाद|شکریہ|mulțumesc|bună ziua|"
        r"مرحبا|شكرا|السلام عليكم|привет|здравствуй|спасибо|cześć|dzień dobry|dziękuję|dzięki|"
        r"merhaba|teşekkür|goedemorgen|bedankt|dank je|hej\b|tack\b",
        "안녕|감사",
    ),
    "constraint": (
        r"يجب|بدون|على الأقل|ميزانية|должн|не более|не менее|без\b|бюджет|musi|najwyżej|"
        r"co najmniej|budżet|en fazla|en az|bütçe|olmadan|moet|zonder|hoogstens|minstens|måste|"
        r"utan\b|högst|minst\b",
        "이하|이상|예산|반드시",
    ),
    "sequence": (
        r"ثم\b|أيضا|затем|потом|также|następnie|potem|również|sonra|ayrıca|daarna|vervolgens|"
        r"därefter|också",
        "그다음|또한",
    ),
}
