"""The task families' commonest words in the languages beyond those of `cues.FAMILIES`:
Russian, Ukrainian, Polish, Czech, Hungarian, Finnish, Turkish, Dutch, Swedish, Norwegian,
Korean, Arabic, Persian, Welsh, Swahili, Somali, Amharic, Hindi, Urdu, Bengali, Tamil, Romanian,
Vietnamese, Tagalog, Malay and Indonesian, Greek, Hebrew and Thai (and German's split verb "fasse
... zusammen"). `cues` joins each family's words to its own, in the same two parts: word starts,
and fragments matched anywhere (Chinese, Japanese, Korean and Thai; Thai, like Chinese, writes
no spaces between words).
"""

MORE_LANGUAGES: dict[str, tuple[str, str]] = {
    "design": (
        r"வடிவமை|নকশা|ডিজাইন|arkkitehtuur|miten rakentaisit|miten suunnittelisit|"
        r"muotoile (?:[\w-]+ ){0,3}[\w-]*(?:ongelmaksi|malliksi)|arkitektur|hvordan (?:ville|"
        r"vil) (?:du|dere) (?:bygg|design|sett)|hogyan (?:építenél|terveznél|alakítanál)|"
        r"tervezd meg|reka bentuk|rancang|طراحی|ንድፍ|thiết kế|idisenyo|спроєкт|σχεδίασ|σχεδιάσ|"
        r"תכנן|תכנני|עצב|איך היית בונה|navrhni|navrhněte|dylunio|dyluniwch|buni\b|kubuni|naqshee|"
        r"डिज़ाइन|डिजाइन|proiecteaz|proiecta\b|cum ați (?:proiecta|construi|organiza|stabili)|"
        r"صمّ?م|تصميم|спроектир|проектировани|архитектур|zaprojektuj|tasarla|mimari|ontwerp|"
        r"utforma|designa",
        "설계|아키텍처|ออกแบบ",
    ),
    "prove": (
        r"நிரூபி|প্রমাণ কর|todista|osoita,? että|bevis at|vis at\b|bizonyítsd|bizonyítás|"
        r"buktikan|ثابت کن|اثبات کن|chứng minh|patunayan|доведи|доведіть|απόδειξ|αποδείξ|הוכח|"
        r"dokaž|dokažte|profwch|profi bod|prawf|thibitisha|caddee|सिद्ध कीजिए|सिद्ध करें|"
        r"सिद्ध करो|demonstrează|ثابت کریں|أثبت|اثبت|برهن|докаж|доказательств|udowodnij|wykaż|"
        r"dowód|kanıtla|ispatla|bewijs|toon aan dat|bevisa",
        "증명|พิสูจน์",
    ),
    "synthesise": (
        r"összegez|tổng hợp|узагальн|σύνθεσ|syntheseiddio|تحليل تلوي|обобщ|синтез|syntez|sentez|"
        r"syntes",
        "종합",
    ),
    "plan": (
        r"प्लान|திட்ட|পরিকল্পনা|কৌশল|suunnitel|suunnittel|aikataulu|strategi|estrat[eé]gi|"
        r"planlegg|tidsplan|tervet|ütemterv|pelan|rencana|برنامه‌ریزی|برنامه ریزی|እቅድ|kế hoạch|"
        r"lịch trình|plano\b|σχέδιο δράσης|χρονοδιάγραμμα|תוכנית|לוח זמנים|harmonogram|"
        r"cynllun(?! ymchwil)|amserlen|mpango(?! (?:kamili )?wa utafiti)|ratiba|qorshe(?! cilmi)|"
        r"jadwal|योजना|منصوبہ|خطة|جدول زمني|план\b|планир|расписани|planı|planla",
        "계획|วางแผน|แผนการ|แผนงาน|แผนธุรกิจ|แผนการตลาด",
    ),
    "research": (
        r"रिसर्च प्लान|परिकल्पना|ஆய்வுத் திட்ட|ஆராய்ச்சி|গবেষণা|tutkimussuunnitelm|"
        r"forskningsopplegg|kutatási terv|pelan penyelidikan|rencana penelitian|طرح پژوهش|"
        r"የምርምር እቅድ|cynllun ymchwil|mpango (?:kamili )?wa utafiti|qorshe cilmi|cilmi-baaris|"
        r"शोध योजना|अनुसंधान|plan de cercetare|план исследовани|plan badań|araştırma planı|"
        r"araştırma tasarımı|onderzoeksplan|onderzoeksopzet|forskningsplan",
        "연구 계획|연구계획|วิจัย",
    ),
    "scale": (
        r"পূর্ণাঙ্গ|পুরো|முழுமையான|kattava|täydellin|fullstendig|fuldstændig|helhetlig|lengkap\b|"
        r"teljes\b|toàn bộ|kompletní|celou aplikaci|ολοκληρωμέν|eksiksiz|tüm proje|миграц|"
        r"рефактор|migracj|refaktor|migratie|volledig|migrer|fullständig",
        "마이그레이션|리팩터|ทั้งระบบ|ครบถ้วน|ครบวงจร",
    ),
    "compare": (
        r"ஒப்பிடு|ஒப்பீடு|তুলনা|vertaa|vertaile|sammenlign|fordeler og ulemper|hasonlítsd|"
        r"bandingkan|مقایسه|so sánh|ikumpara|paghambingin|порівня|σύγκρινε|σύγκριση|השווה|השוואה|"
        r"porovnej|porovnání|cymharwch|cymharu|linganisha|isbarbardhig|तुलना|موازنہ|قارن|مقارنة|"
        r"сравн|porówn|karşılaştır|vergelijk|jämför",
        "비교|장단점|เปรียบเทียบ",
    ),
    "write": (
        r"எழுது|எழுதி|লিখ|তৈরি কর|kirjoita|laadi|luonnostele|utarbeid|lag (?:en|et|ei)\b|írj\b|"
        r"írd meg|sediakan|tuliskan|buatkan|بنویس|ጻፍ|viết|isulat|sumulat|γράψε|γράψτε|כתוב|כתבי|"
        r"napiš|napište|ysgrifennwch|lluniwch|drafftiwch|andika|andaa|qor\b|qoro\b|लिखिए|लिखें|"
        r"लिखो|لکھ|scrie|redactează|yazar mısın|yazın|yaz\b|اكتب|أكتب|напиш|составь|сочини|"
        r"napisz|zredaguj|schrijf|skriv",
        "작성|써 주|써줘|เขียน",
    ),
    "code_deliverable": (
        r"நிரல்|প্রোগ্রাম|স্ক্রিপ্ট|ফাংশন|funktio|skripti|ohjelma|функци|скрипт|funkcj|skrypt|"
        r"fonksiyon|functie",
        "함수|스크립트|โค้ด|ฟังก์ชัน|สคริปต์",
    ),
    "analyse": (
        r"சுருக்க|பகுப்பாய்|সারাংশ|সংক্ষেপ|বিশ্লেষণ|ringkas\b|rangkum|tiivistä|yhteenveto|"
        r"analysoi|arvioi|oppsummer|sammendrag|vurder|foglald össze|összefoglal|elemezd|"
        r"ringkaskan|rumuskan|خلاصه کن|تحلیل کن|tóm tắt|phân tích|ibuod|buod|підсумуй|"
        r"проаналізуй|περίληψη|ανάλυσ|סכם|סיכום|נתח|shrň|shrnutí|analyzuj|crynhowch|crynodeb|"
        r"dadansodd|muhtasari|fupisha|chambua|uchambuzi|soo koob|falanqee|सारांश|विश्लेषण|خلاصہ|"
        r"rezumă|rezumat|analizează|لخّ?ص|تلخيص|حلّ?ل|تحليل|قيّ?م|проанализир|анализ|резюмир|"
        r"перескаж|кратко излож|przeanalizuj|streść|podsumuj|oceń|özetle|değerlendir|samenvat|"
        r"vat\b[^.?!]{0,60}\bsamen\b|analyseer|beoordeel|sammanfatta|analysera|utvärdera|"
        r"fass(?:e|t|en)?\b[^.?!]{0,60}\bzusammen\b",
        "요약|분석|평가|สรุป|วิเคราะห์|ประเมิน",
    ),
    "debug": (
        r"பிழை|ত্রুটি|korjaa|virhe|ei toimi|virker ikke|feilmelding|أصلح|اصلح|خطأ|исправ|ошибк|"
        r"отлад|napraw|popraw|błąd|błęd|düzelt|hata|repareer|foutmelding|fixa|felet",
        "오류|에러|버그|디버그|บั๊ก|ข้อผิดพลาด",
    ),
    "explain": (
        r"விளக்கு|விளக்க|ব্যাখ্যা|selitä|forklar|hvorfor|magyarázd|terangkan|jelaskan|توضیح بده|"
        r"አስረዳ|giải thích|ipaliwanag|поясни|поясніть|εξήγησ|εξηγήσ|הסבר|הסבירי|vysvětli|"
        r"vysvětlete|esboniwch|eglurwch|eleza|fafanua|sharax|समझाइए|समझाओ|سمجھا|explică|اشرح|"
        r"لماذا|كيف|объясн|почему|как работает|wyjaśnij|wytłumacz|dlaczego|jak działa|açıkla|"
        r"neden\b|leg\b[^.?!]{0,40}\buit\b|uitleg|waarom|hoe werkt|förklara|varför|hur fungerar",
        "설명|왜|อธิบาย|ทำไม",
    ),
    "depth": (
        r"விரிவாக|বিস্তারিত|yksityiskohtai|esimerk|detaljert|eksempel|بالتفصيل|مثال|أمثلة|"
        r"подробн|пример|szczegółow|przykład|ayrıntılı|detaylı|örnek|gedetailleerd|voorbeeld|"
        r"detaljerat|ingående|exempel",
        "자세히|예시|예를|ละเอียด|ตัวอย่าง",
    ),
    "transform": (
        r"jak (?:to )?po angielsku|jak (?:powiedzieć|napisać) po|மொழிபெயர்|অনুবাদ|käännä|"
        r"suomenna|oversett|oversæt|fordítsd|hogy mondják|terjemahkan|ተርጉም|dịch\b|isalin|"
        r"paano sabihin|перекла|μετάφρασ|תרגם|תרגמי|přelož|cyfieithwch|cyfieithu|tafsiri|turjun|"
        r"gyfieith|"  # Welsh mutates the verb after "allwch chi" (can you): "gyfieithu"
        r"tarjun|अनुवाद|ترجمہ|tradu\b|cum se spune|ترجم|أعد صياغة|переведи|перевод|перефразир|"
        r"przetłumacz|çevir|vertaal|översätt",
        "번역|แปลเป็น|ช่วยแปล|แปลประโยค|แปลข้อความ",
    ),
    "enumerate": (
        r"பட்டியலிடு|তালিকা কর|luettele|listaa|list opp|перечисл|назови|wymień|listele|noem|nämn",
        "나열",
    ),
    "meaning": (
        r"அர்த்தம்|என்றால் என்ன|মানে কী|এর মানে|অর্থ কী|tarkoittaa|betyr|hva betyr|mit jelent|"
        r"maksud|artinya|یعنی چه|nghĩa là|ibig sabihin|означає|σημαίνει|מה פירוש|význam|znamená|"
        r"ystyr|maana ya|macnaha|मतलब|अर्थ\b|مطلب|înseamnă|معنى|ماذا يعني|означает|значит|"
        r"значение|znaczy|oznacza|znaczenie|anlamı|ne demek|betekent|betekenis|betyder|betydelse",
        "뜻|의미|แปลว่า|หมายถึง|ความหมาย",
    ),
    "greeting": (
        r"வணக்கம்|நன்றி|নমস্কার|ধন্যবাদ|kiitos|moi\b|hei\b|takk\b|tak\b|szia\b|köszönöm|"
        r"terima kasih|selamat pagi|سلام|ممنون|xin chào|cảm ơn|salamat|дякую|καλημέρα|καλησπέρα|"
        r"ευχαριστώ|תודה|בוקר טוב|děkuji|dobrý den|bore da|diolch|shwmae|habari|asante|shikamoo|"
        r"mahadsanid|iska warran|नमस्ते|धन्यवाद|شکریہ|mulțumesc|bună ziua|مرحبا|شكرا|"
        r"السلام عليكم|привет|здравствуй|спасибо|cześć|dzień dobry|dziękuję|dzięki|merhaba|"
        r"teşekkür|goedemorgen|bedankt|dank je|hej\b|tack\b",
        "안녕|감사|สวัสดี|ขอบคุณ",
    ),
    "constraint": (
        r"يجب|بدون|على الأقل|ميزانية|должн|не более|не менее|без\b|бюджет|musi|najwyżej|"
        r"co najmniej|budżet|en fazla|en az|bütçe|olmadan|moet|zonder|hoogstens|minstens|måste|"
        r"utan\b|högst|minst\b",
        "이하|이상|예산|반드시|ต้อง|ไม่เกิน|อย่างน้อย|งบประมาณ|ภายใน",
    ),
    "sequence": (
        r"ثم\b|أيضا|затем|потом|также|następnie|potem|również|sonra|ayrıca|daarna|vervolgens|"
        r"därefter|också",
        "그다음|또한|จากนั้น|นอกจากนี้",
    ),
}
