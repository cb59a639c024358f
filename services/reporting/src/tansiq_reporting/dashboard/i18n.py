"""The dashboard's words in English and Arabic: one table, rendered into the page shell and
handed to the page's script, so server and browser never disagree on a label."""

from __future__ import annotations

from typing import Literal

from tansiq_reporting.findings.rules import RULE_NAMES

Lang = Literal["en", "ar"]
Digits = Literal["latn", "arab"]
LANGS: tuple[Lang, ...] = ("en", "ar")

# key: (English, Arabic). `{name}` placeholders are filled in by the script.
WORDS: dict[str, tuple[str, str]] = {
    "app.title": ("Tansiq coordination dashboard", "لوحة متابعة تنسيق"),
    "app.brand": ("Tansiq", "تنسيق"),
    "app.skip": ("Skip to the content", "انتقل إلى المحتوى"),
    "nav.overview": ("Overview", "نظرة عامة"),
    "nav.findings": ("Findings", "الملاحظات"),
    "nav.coverage": ("Coverage", "تغطية الشركاء"),
    "nav.indicators": ("Indicators", "المؤشرات"),
    "nav.freshness": ("Freshness", "حداثة البيانات"),
    "nav.label": ("Dashboard pages", "صفحات اللوحة"),
    "lang.switch": ("العربية", "English"),
    "lang.switch_label": ("Language", "اللغة"),
    "digits.label": ("Numerals", "الأرقام"),
    "digits.latn": ("Latin 123", "لاتينية 123"),
    "digits.arab": ("Arabic-Indic ١٢٣", "عربية مشرقية ١٢٣"),
    # Signing in
    "token.title": ("Sign in with a token", "الدخول برمز وصول"),
    "token.intro": (
        "The dashboard shows what the reporting API answers for your token, nothing more.",
        "تعرض اللوحة ما تجيب به واجهة التقارير لرمزك فقط، لا أكثر.",
    ),
    "token.paste": ("Bearer token (JWT)", "رمز الوصول (JWT)"),
    "token.use": ("Use this token", "استخدام هذا الرمز"),
    "token.bad": (
        "That does not look like a JWT (three parts separated by dots).",
        "لا يبدو هذا رمز JWT (ثلاثة أجزاء تفصل بينها نقاط).",
    ),
    "token.dev_title": ("Development: mint a token", "بيئة التطوير: إصدار رمز"),
    "token.dev_note": (
        "This service trusts the local development key, so it can sign a one-hour token for a "
        "demo organization and role.",
        "تثق هذه الخدمة بمفتاح التطوير المحلي، لذا يمكنها توقيع رمز صالح لساعة واحدة لجهة ودور "
        "من بيانات العرض.",
    ),
    "token.org": ("Organization", "الجهة"),
    "token.role": ("Role", "الدور"),
    "token.name": ("Your name", "اسمك"),
    "token.mint": ("Mint and sign in", "إصدار الرمز والدخول"),
    "token.no_orgs": (
        "No organization has reached the reporting service yet (is the demo data loaded?).",
        "لم تصل أي جهة إلى خدمة التقارير بعد (هل حُمّلت بيانات العرض؟).",
    ),
    "token.signed_in": ("Signed in as {sub}", "الدخول باسم {sub}"),
    "token.roles": ("roles: {roles}", "الأدوار: {roles}"),
    "token.expires": ("until {time}", "حتى {time}"),
    "token.sign_out": ("Sign out", "خروج"),
    "token.refused": (
        "The token was refused (expired or not valid here). Sign in again.",
        "رُفض رمز الوصول (منتهي الصلاحية أو غير صالح هنا). سجّل الدخول مجدداً.",
    ),
    "role.viewer": ("viewer", "مطّلع"),
    "role.editor": ("editor", "محرر"),
    "role.coordinator": ("coordinator", "منسق"),
    "role.auditor": ("auditor", "مدقق"),
    "role.integration": ("integration", "تكامل"),
    "role.registry_admin": ("registry administrator", "مدير السجل"),
    # Common
    "loading": ("Loading…", "جارٍ التحميل…"),
    "empty": ("Nothing to show for your token.", "لا شيء للعرض لرمزك."),
    "forbidden": ("Your role may not see this view.", "لا يتيح دورك الاطلاع على هذه الصفحة."),
    "failed": (
        "The reporting service did not answer: {detail}",
        "لم تستجب خدمة التقارير: {detail}",
    ),
    "truncated": (
        "Only the first {n} are counted here.",
        "احتُسب هنا أول {n} فقط.",
    ),
    "all": ("All", "الكل"),
    "none": ("none", "لا يوجد"),
    "total": ("Total", "المجموع"),
    "ministry": ("Ministry", "الوزارة"),
    "partner": ("Partner", "الشريك"),
    "rule": ("Rule", "القاعدة"),
    "status": ("Status", "الحالة"),
    "restricted": ("restricted", "مقيّد"),
    "interagency": ("interagency", "مشترك بين الجهات"),
    "agreement": ("agreement", "اتفاقية"),
    "engagement": ("engagement", "نشاط"),
    # Overview
    "overview.scorecards": ("Scorecards by ministry", "بطاقات الأداء حسب الوزارة"),
    "overview.scorecards_hint": (
        "Share of each ministry's records free of open or acknowledged findings; the line is "
        "the monthly trend.",
        "نسبة سجلات كل وزارة الخالية من ملاحظات مفتوحة أو مُقرّ بها؛ ويبيّن الخط الاتجاه الشهري.",
    ),
    # Counts as "label: n", which reads right for any n in both languages.
    "overview.records": ("Records: {n} · with findings: {m}", "السجلات: {n} · عليها ملاحظات: {m}"),
    "overview.no_records": ("no records yet", "لا سجلات بعد"),
    "overview.open_by_rule": ("Open findings by rule", "الملاحظات المفتوحة حسب القاعدة"),
    "overview.open_by_ministry": (
        "Open findings by ministry and rule",
        "الملاحظات المفتوحة حسب الوزارة والقاعدة",
    ),
    "overview.open_total": ("Open findings: {n}", "الملاحظات المفتوحة: {n}"),
    "overview.trend": ("Score by month", "النتيجة حسب الشهر"),
    # Findings
    "findings.title": ("Findings", "الملاحظات"),
    "findings.filters": ("Filters", "التصفية"),
    "findings.since": ("Opened since", "مفتوحة منذ"),
    "findings.apply": ("Apply", "تطبيق"),
    "findings.reset": ("Reset", "إعادة ضبط"),
    "findings.opened": ("Opened {date}", "فُتحت في {date}"),
    "findings.resolved": ("Resolved {date}", "عولجت في {date}"),
    "findings.explanation": ("What was found", "ما رُصد"),
    "findings.resolution": ("What would resolve it", "ما يعالجها"),
    "findings.records": ("Records involved", "السجلات المعنية"),
    "findings.partners": ("Partners", "الشركاء"),
    "findings.more": ("Load more", "تحميل المزيد"),
    "findings.shown": ("Shown: {n}", "المعروض: {n}"),
    "findings.choose": (
        "Choose a finding to see the records involved.",
        "اختر ملاحظة لعرض السجلات المعنية.",
    ),
    "findings.acknowledge": ("Acknowledge", "إقرار"),
    "findings.accept": ("Accept as an exception", "قبول كاستثناء"),
    "findings.justification": ("Justification", "المبرر"),
    "findings.justification_needed": (
        "An exception needs a justification.",
        "يحتاج الاستثناء إلى مبرر.",
    ),
    "findings.acknowledged_by": ("Acknowledged by {by} on {at}", "أقرّ بها {by} في {at}"),
    "findings.accepted_by": (
        "Accepted as an exception by {by} on {at}: {why}",
        "قبلها {by} كاستثناء في {at}: {why}",
    ),
    "findings.coordinators_only": (
        "Coordinators of a coordinating body decide on findings.",
        "يبتّ في الملاحظات منسقو جهة التنسيق.",
    ),
    "findings.saved": ("Saved.", "تم الحفظ."),
    "findings.conflict": (
        "This finding changed meanwhile; it was reloaded.",
        "تغيّرت هذه الملاحظة في الأثناء؛ أُعيد تحميلها.",
    ),
    "findings.gone": (
        "This finding is not visible to your token.",
        "هذه الملاحظة غير متاحة لرمزك.",
    ),
    "findings.dated": ("dated {date}", "بتاريخ {date}"),
    "findings.expires": ("expires {date}", "تنتهي في {date}"),
    "status.open": ("open", "مفتوحة"),
    "status.acknowledged": ("acknowledged", "مُقرّ بها"),
    "status.accepted": ("accepted as exception", "مقبولة كاستثناء"),
    "status.resolved": ("resolved", "مُعالجة"),
    # Coverage
    "coverage.title": ("Partner coverage: ministry × partner", "تغطية الشركاء: الوزارة × الشريك"),
    "coverage.hint": (
        "Each cell: engagements and agreements of the ministry with the partner, and the last "
        "contact held. Darker means more.",
        "كل خلية: أنشطة الوزارة واتفاقياتها مع الشريك، وآخر تواصل جرى. الأغمق يعني أكثر.",
    ),
    "coverage.last_contact": ("Last contact", "آخر تواصل"),
    "coverage.never": ("no contact held", "لا تواصل"),
    "coverage.cell": (
        "{ministry} with {partner}: engagements {e}, agreements {a}; last contact {last}",
        "{ministry} مع {partner}: الأنشطة {e}، الاتفاقيات {a}؛ آخر تواصل {last}",
    ),
    "coverage.latest": ("Latest contact per ministry", "آخر تواصل لكل وزارة"),
    # Indicators
    "indicators.title": ("Indicators against the targets", "المؤشرات مقابل المستهدفات"),
    "indicators.baseline": ("Baseline {value} ({year})", "خط الأساس {value} ({year})"),
    "indicators.target": ("Target {value} by {date}", "المستهدف {value} بحلول {date}"),
    "indicators.actual": ("Actual", "الفعلي"),
    "indicators.projected": ("Projected at the deadline", "المتوقع عند الموعد"),
    "indicators.of_target": ("{pct} of the target", "{pct} من المستهدف"),
    "indicators.as_of": ("as of {date}", "حتى {date}"),
    "indicators.series_actual": ("actual", "الفعلي"),
    "indicators.series_projection": ("projection", "الإسقاط"),
    "indicators.series_target": ("target", "المستهدف"),
    "standing.achieved": ("achieved", "تحقق"),
    "standing.on_track": ("on track", "على المسار"),
    "standing.at_risk": ("at risk", "معرّض للخطر"),
    "standing.off_track": ("off track", "خارج المسار"),
    "standing.none": ("not enough data", "بيانات غير كافية"),
    "metric.agreements_signed": ("agreements signed", "الاتفاقيات الموقعة"),
    "metric.nationals_trained": ("nationals trained", "المواطنون المتدرَّبون"),
    "metric.placements": ("nationals in international posts", "مواطنون في مناصب دولية"),
    "metric.coordinated_engagement_share": (
        "share of engagements through the coordinating body",
        "نسبة الأنشطة عبر جهة التنسيق",
    ),
    "metric.engagements": ("engagements", "الأنشطة"),
    "window.cumulative": ("cumulative", "تراكمي"),
    "window.annual": ("per year", "سنوي"),
    # Freshness
    "freshness.title": ("Freshness of the reporting data", "حداثة بيانات التقارير"),
    "freshness.hint": (
        "Per topic: the last event applied, how old it is, and the messages not applied yet.",
        "لكل موضوع: آخر حدث طُبّق، وعمره، والرسائل التي لم تُطبّق بعد.",
    ),
    "freshness.topic": ("Topic", "الموضوع"),
    "freshness.last_event": ("Last event", "آخر حدث"),
    "freshness.age": ("Age", "العمر"),
    "freshness.lag": ("Lag (messages)", "التأخر (رسائل)"),
    "freshness.applied": ("Events applied", "الأحداث المطبّقة"),
    "freshness.unknown": ("unknown", "غير معروف"),
    "freshness.never": ("none yet", "لا شيء بعد"),
    "freshness.rebuilding": (
        "A rebuild from the topics is under way since {time}: figures may be incomplete.",
        "تجري إعادة بناء من المواضيع منذ {time}: قد تكون الأرقام ناقصة.",
    ),
    "freshness.consumer": ("Consumer: {name}", "المستهلك: {name}"),
    "freshness.chart": ("Age of the last event (hours)", "عمر آخر حدث (ساعات)"),
    # Record kinds and states, as the drill-down names them
    "kind.mou": ("memorandum of understanding", "مذكرة تفاهم"),
    "kind.cooperation_agreement": ("cooperation agreement", "اتفاقية تعاون"),
    "kind.partnership_agreement": ("partnership agreement", "اتفاقية شراكة"),
    "kind.framework_agreement": ("framework agreement", "اتفاقية إطارية"),
    "kind.funding_agreement": ("funding agreement", "اتفاقية تمويل"),
    "kind.technical_assistance": ("technical assistance", "مساعدة فنية"),
    "kind.host_country_agreement": ("host country agreement", "اتفاقية دولة مقر"),
    "kind.letter_of_intent": ("letter of intent", "خطاب نوايا"),
    "kind.programme_document": ("programme document", "وثيقة برنامج"),
    "kind.meeting": ("meeting", "اجتماع"),
    "kind.visit": ("visit", "زيارة"),
    "kind.conference": ("conference", "مؤتمر"),
    "kind.strategic_dialogue": ("strategic dialogue", "حوار استراتيجي"),
    "kind.training": ("training", "تدريب"),
    "kind.workshop": ("workshop", "ورشة عمل"),
    "kind.correspondence": ("correspondence", "مراسلة"),
    "kind.placement": ("placement", "تعيين في منظمة دولية"),
    "kind.signing": ("signing", "توقيع"),
    "kind.event": ("event", "فعالية"),
    "state.draft": ("draft", "مسودة"),
    "state.submitted": ("submitted for clearance", "مقدمة للإجازة"),
    "state.cleared": ("cleared", "مُجازة"),
    "state.returned": ("returned", "معادة"),
    "state.signed": ("signed", "موقعة"),
    "state.in_force": ("in force", "سارية"),
    "state.expired": ("expired", "منتهية"),
    "state.terminated": ("terminated", "منهاة"),
    "state.planned": ("planned", "مخطط"),
    "state.held": ("held", "منعقد"),
    "state.cancelled": ("cancelled", "ملغى"),
    "state.reported": ("reported", "مرفوع تقريره"),
}

for _rule, _text in RULE_NAMES.items():
    WORDS[f"rule.{_rule.value}"] = (_text.en or _rule.value, _text.ar or _rule.value)


def words(lang: Lang) -> dict[str, str]:
    index = LANGS.index(lang)
    return {key: pair[index] for key, pair in WORDS.items()}
