"""Demo data: real bodies of the demo countries (docs/architecture.md), loaded by `tansiq seed`.

Rows go through the same importer as a ministry's CSV, keyed by `demo:` source keys (and IATI
identifiers for partners that have one), so seeding twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tansiq_common.db import Database
from tansiq_common.uow import SystemActor, UnitOfWork

from tansiq_registry.organizations.importer import COLUMNS, Importer

SEED_ACTOR = SystemActor(sub="tansiq-seed", roles=frozenset({"registry_admin"}))


def _row(key: str, kind: str, ar: str, en: str, acronym: str = "", **rest: str) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS, "")
    row.update(source_key=key, kind=kind, name_ar=ar, name_en=en, acronym=acronym, **rest)
    return row


QA = {"country": "QA"}
SY = {"country": "SY"}

DEMO_ROWS: list[dict[str, str]] = [
    # Qatar: the coordinating body (seed 000, 001).
    _row("demo:qa-mofa", "ministry", "وزارة الخارجية", "Ministry of Foreign Affairs", "MOFA",
         website="https://www.mofa.gov.qa", **QA),
    _row("demo:qa-mofa-icd", "directorate", "إدارة التعاون الدولي",
         "International Cooperation Department", "ICD", parent="demo:qa-mofa",
         designations="coordinating_body", **QA),
    # Qatar: the Ministry of Social Development and Family and the foundation it supervises,
    # with the foundation's specialised centres (seed 002).
    _row("demo:qa-msdf", "ministry", "وزارة التنمية الاجتماعية والأسرة",
         "Ministry of Social Development and Family", "MSDF", **QA),
    _row("demo:qa-qfsw", "public_foundation", "المؤسسة القطرية للعمل الاجتماعي",
         "Qatar Foundation for Social Work", "QFSW", parent="demo:qa-msdf",
         reporting_lines="demo:qa-msdf:supervision", **QA),
    _row("demo:qa-qfsw-wifaq", "centre", "مركز الاستشارات العائلية (وفاق)",
         "Family Consulting Center (Wifaq)", "Wifaq", parent="demo:qa-qfsw", **QA),
    _row("demo:qa-qfsw-dreama", "centre", "مركز رعاية الأيتام (دريمة)",
         "Orphan Care Center (Dreama)", "Dreama", parent="demo:qa-qfsw", **QA),
    _row("demo:qa-qfsw-aman", "centre", "مركز الحماية والتأهيل الاجتماعي (أمان)",
         "Protection and Social Rehabilitation Center (Aman)", "Aman", parent="demo:qa-qfsw",
         **QA),
    _row("demo:qa-qfsw-ehsan", "centre", "مركز تمكين ورعاية كبار السن (إحسان)",
         "Center for Empowerment and Elderly Care (Ehsan)", "Ehsan", parent="demo:qa-qfsw",
         **QA),
    _row("demo:qa-qfsw-shafallah", "centre", "مركز الشفلح للأشخاص ذوي الإعاقة",
         "Shafallah Center for Persons with Disability", "Shafallah", parent="demo:qa-qfsw",
         **QA),
    # Qatar: other ministries and public bodies.
    _row("demo:qa-moi", "ministry", "وزارة الداخلية", "Ministry of Interior", "MOI", **QA),
    _row("demo:qa-mehe", "ministry", "وزارة التربية والتعليم والتعليم العالي",
         "Ministry of Education and Higher Education", "MOEHE", **QA),
    _row("demo:qa-moph", "ministry", "وزارة الصحة العامة", "Ministry of Public Health", "MOPH",
         **QA),
    _row("demo:qa-mol", "ministry", "وزارة العمل", "Ministry of Labour", "MOL", **QA),
    _row("demo:qa-psa", "agency", "جهاز التخطيط والإحصاء", "Planning and Statistics Authority",
         "PSA", **QA),
    # Embassies in Doha (seed 002's forum); country = the sending state.
    _row("demo:emb-gb-doha", "diplomatic_mission", "سفارة المملكة المتحدة في الدوحة",
         "British Embassy Doha", country="GB"),
    _row("demo:emb-us-doha", "diplomatic_mission", "سفارة الولايات المتحدة الأمريكية في الدوحة",
         "Embassy of the United States in Doha", country="US"),
    _row("demo:emb-fr-doha", "diplomatic_mission", "سفارة فرنسا في الدوحة",
         "Embassy of France in Doha", country="FR"),
    _row("demo:emb-jp-doha", "diplomatic_mission", "سفارة اليابان في الدوحة",
         "Embassy of Japan in Doha", country="JP"),
    _row("demo:emb-tr-doha", "diplomatic_mission", "سفارة تركيا في الدوحة",
         "Embassy of Türkiye in Doha", country="TR"),
    # Syria (seed 003): the directorate sits in one ministry and follows another.
    _row("demo:sy-mofae", "ministry", "وزارة الخارجية والمغتربين",
         "Ministry of Foreign Affairs and Expatriates", "MOFAE",
         designations="coordinating_body", **SY),
    _row("demo:sy-mlae", "ministry", "وزارة الإدارة المحلية والبيئة",
         "Ministry of Local Administration and Environment", "MLAE", **SY),
    _row("demo:sy-mlae-dic", "directorate", "مديرية التعاون الدولي",
         "Directorate of International Cooperation", "DIC", parent="demo:sy-mlae",
         reporting_lines="demo:sy-mofae:technical;demo:sy-mofae:administrative", **SY),
    # Partners (seeds 001, 002, 004) with their IATI organisation identifiers where they have one.
    _row("demo:undp", "un_entity", "برنامج الأمم المتحدة الإنمائي",
         "United Nations Development Programme", "UNDP", iati_identifier="XM-DAC-41114"),
    _row("demo:unesco", "un_entity", "منظمة الأمم المتحدة للتربية والعلم والثقافة (اليونسكو)",
         "United Nations Educational, Scientific and Cultural Organization", "UNESCO",
         iati_identifier="XM-DAC-41304"),
    _row("demo:unicef", "un_entity", "منظمة الأمم المتحدة للطفولة (اليونيسف)",
         "United Nations Children's Fund", "UNICEF", iati_identifier="XM-DAC-41122"),
    _row("demo:unfpa", "un_entity", "صندوق الأمم المتحدة للسكان", "United Nations Population Fund",
         "UNFPA", iati_identifier="XM-DAC-41119"),
    _row("demo:unctad", "un_entity", "مؤتمر الأمم المتحدة للتجارة والتنمية (الأونكتاد)",
         "United Nations Conference on Trade and Development", "UNCTAD",
         iati_identifier="XM-DAC-41112"),
    _row("demo:escwa", "un_entity",
         "لجنة الأمم المتحدة الاقتصادية والاجتماعية لغربي آسيا (الإسكوا)",
         "United Nations Economic and Social Commission for Western Asia", "ESCWA",
         iati_identifier="XM-DAC-41105"),
    _row("demo:unodc", "un_entity", "مكتب الأمم المتحدة المعني بالمخدرات والجريمة",
         "United Nations Office on Drugs and Crime", "UNODC", iati_identifier="XM-DAC-41128"),
    _row("demo:ilo", "un_entity", "منظمة العمل الدولية", "International Labour Organization",
         "ILO", iati_identifier="XM-DAC-41302"),
    _row("demo:ocha", "un_entity", "مكتب الأمم المتحدة لتنسيق الشؤون الإنسانية",
         "United Nations Office for the Coordination of Humanitarian Affairs", "OCHA",
         iati_identifier="XM-DAC-41127"),
    _row("demo:iom", "un_entity", "المنظمة الدولية للهجرة",
         "International Organization for Migration", "IOM", iati_identifier="XM-DAC-47066"),
    _row("demo:unoct", "un_entity", "مكتب الأمم المتحدة لمكافحة الإرهاب",
         "United Nations Office of Counter-Terrorism", "UNOCT"),
    _row("demo:wbg", "international_organization", "مجموعة البنك الدولي", "World Bank Group",
         "WBG", iati_identifier="XM-DAC-44000"),
    _row("demo:imf", "international_organization", "صندوق النقد الدولي",
         "International Monetary Fund", "IMF"),
    _row("demo:isdb", "international_organization", "البنك الإسلامي للتنمية",
         "Islamic Development Bank", "IsDB", iati_identifier="XM-DAC-46025"),
    _row("demo:sesric", "international_organization",
         "مركز الأبحاث الإحصائية والاقتصادية والاجتماعية والتدريب للدول الإسلامية (سيسرك)",
         "Statistical, Economic and Social Research and Training Centre for Islamic Countries",
         "SESRIC"),
    _row("demo:gcc", "regional_organization", "مجلس التعاون لدول الخليج العربية",
         "Gulf Cooperation Council", "GCC"),
    _row("demo:arab-league", "regional_organization", "جامعة الدول العربية",
         "League of Arab States", "LAS"),
    _row("demo:oic", "regional_organization", "منظمة التعاون الإسلامي",
         "Organisation of Islamic Cooperation", "OIC"),
]  # fmt: skip


async def seed(db: Database, home_countries: Sequence[str]) -> dict[str, Any]:
    """Create the demo organizations that are missing. Those already there are left as they
    are (users may have changed or archived them since) and reported as kept."""
    uow = UnitOfWork(db.sessionmaker, actor=SEED_ACTOR)
    rows = [(i + 2, row) for i, row in enumerate(DEMO_ROWS)]
    outcome = await Importer(uow, home_countries, keep_existing=True).run(rows)
    return outcome.report()
