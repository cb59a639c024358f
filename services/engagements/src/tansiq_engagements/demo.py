"""Demo data: engagements of the demo organizations (docs/architecture.md), loaded by
`tansiq seed` after the registry's organizations (and the agreements service's agreements).

- the Qatar Foundation for Social Work's forum with embassies, ministries and UN offices, where
  it signed its cooperation agreement with UNESCO, directly, without the coordinating body
  (seed 002), and its centres' work with UN agencies;
- the high-level strategic dialogue sessions with the UN Office of Counter-Terrorism, the first
  forums of technical-assistance beneficiaries in Doha and the work on national interagency
  coordination mechanisms ("fusion cells") (seed 004);
- the International Cooperation Department's yearly trainings of nationals and the placements
  of nationals in regional and international organizations, the results framework's targets
  (30 trained a year from 2017, about 30 in posts by 2022) (seed 000);
- meetings of Syria's Directorate of International Cooperation with its partners, mostly through
  the Ministry of Foreign Affairs and Expatriates that it follows technically (seed 003);
- other ministries' contacts with partners, some through the coordinating body and some direct,
  from 2019 to 2026, with reports (institutional memory, seed 001) and action items, some of
  them late, so that reporting's trends and findings mean something.

Each engagement is keyed `(source "demo", external_id)`: one that is there already is kept as
users left it, so seeding again changes nothing.

The organizations (and agreements) are found by their source keys: handed in by the caller, or
read from the registry's (and agreements') topic on Kafka, waiting up to ENGAGEMENTS_DEMO_WAIT_S
for the organizations. They are applied to this service's replicas as its consumers would (only
a newer version changes a row), so the engagements are checked exactly as a user's.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import TopicPartition
from tansiq_common.auth import ORGANIZATION_TOPIC, apply_organization_event
from tansiq_common.db import Database
from tansiq_common.domain import DomainError
from tansiq_common.events.contracts import AGREEMENT_TOPIC, contract_for
from tansiq_common.events.envelope import Envelope, InvalidEvent
from tansiq_common.events.kafka import group_consumer
from tansiq_common.uow import SystemActor, UnitOfWork

from tansiq_engagements.agreements.replica import apply_agreement_event
from tansiq_engagements.engagements.model import Engagement, Status
from tansiq_engagements.engagements.service import EngagementService
from tansiq_engagements.lookups import build_lookups
from tansiq_engagements.settings import EngagementsSettings

log = logging.getLogger(__name__)

SOURCE = "demo"
SEED_ACTOR = SystemActor(sub="tansiq-seed", roles=frozenset({"editor"}))
DEMO_NAMESPACE = uuid.UUID("3b0c8f5e-7d2a-5c61-8e94-1f2a6b7c9d01")


@dataclass(frozen=True)
class DemoAction:
    title: str
    owner: str  # organization source key
    due_on: str
    status: str = "open"


@dataclass(frozen=True)
class DemoEngagement:
    key: str
    kind: str
    ar: str
    en: str
    start: str  # ISO date-time; "today-300" style offsets are resolved at seeding
    hours: float
    lead: str
    participants: tuple[tuple[str, str], ...]
    city: str | None = "Doha"
    country: str | None = "QA"
    virtual: bool = False
    people: tuple[int, int, int] = (0, 0, 0)  # total, nationals, nationals trained
    sdgs: tuple[int, ...] = ()
    sectors: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    channel: str = "direct"
    notified_after_days: int | None = None
    status: str = "held"
    visibility: str = "interagency"
    report_due_days: int | None = 14  # after the end
    outcome: str | None = None
    report: str | None = None
    report_after_days: int = 10
    actions: tuple[DemoAction, ...] = ()
    agreements: tuple[str, ...] = ()  # agreement source keys, linked when known
    related: tuple[str, ...] = ()  # earlier demo engagements' keys

    def organizations(self) -> set[str]:
        return {self.lead, *(key for key, _ in self.participants), *(a.owner for a in self.actions)}


def _host(key: str) -> tuple[str, str]:
    return (key, "host")


def _org(key: str) -> tuple[str, str]:
    return (key, "organizer")


def _part(key: str) -> tuple[str, str]:
    return (key, "participant")


def _obs(key: str) -> tuple[str, str]:
    return (key, "observer")


ICD = "demo:qa-mofa-icd"
MOFA = "demo:qa-mofa"
QFSW = "demo:qa-qfsw"
MOI = "demo:qa-moi"
DIC = "demo:sy-mlae-dic"
MOFAE = "demo:sy-mofae"
EMBASSIES = ("demo:emb-gb-doha", "demo:emb-us-doha", "demo:emb-fr-doha", "demo:emb-jp-doha",
             "demo:emb-tr-doha")  # fmt: skip

FORUM_REPORT = (
    "عقدت المؤسسة القطرية للعمل الاجتماعي ملتقى تعريفياً جمع عدداً من السفراء والوزارات ومكاتب "
    "الأمم المتحدة في دولة قطر، لتحفيز سبل التعاون مع السفارات وتبادل الخبرات والممارسات المثلى "
    "في العمل الاجتماعي والتنسيق في الأمور المرتبطة بالجاليات. ووقعت المؤسسة على هامش الملتقى "
    "اتفاقية تعاون مع اليونسكو في التنمية الاجتماعية والبشرية والتعليم الشامل وتمكين المرأة "
    "والشباب.\n"
    "The Qatar Foundation for Social Work held an introductory forum with ambassadors, ministries "
    "and UN offices in Qatar on cooperation in social work and services to the embassies' "
    "communities, and signed a cooperation agreement with UNESCO on its margins. The coordinating "
    "body was neither involved nor notified."
)

DEMO_ENGAGEMENTS: list[DemoEngagement] = [
    # --- seed 002: the Qatar Foundation for Social Work and its centres --------------------------
    DemoEngagement(
        "demo:qfsw-embassies-forum", "conference",
        "ملتقى المؤسسة القطرية للعمل الاجتماعي للسفارات في قطر",
        "Qatar Foundation for Social Work forum with the embassies in Qatar",
        "today-300T10:00", 4, QFSW,
        (_host(QFSW), _part("demo:unesco"), *(_part(e) for e in EMBASSIES), _part("demo:qa-msdf"),
         _part("demo:unicef")),
        people=(140, 85, 0), sdgs=(4, 5, 10, 17), sectors=("social-development",),
        outcome="شراكات مع السفارات ومكاتب الأمم المتحدة في العمل الاجتماعي، "
        "واتفاقية تعاون مع اليونسكو",
        report=FORUM_REPORT, agreements=("demo:qa-qfsw-unesco",),
        actions=(
            DemoAction("Designate a focal point for each embassy's community services", QFSW,
                       "today-240", "done"),
            DemoAction("Joint inclusive-education programme with the UNESCO regional office",
                       QFSW, "today-60", "in_progress"),
            DemoAction("Share the forum's report with the coordinating body", QFSW, "today-270"),
        ),
    ),
    DemoEngagement(
        "demo:qfsw-unesco-signing", "signing",
        "توقيع اتفاقية التعاون بين المؤسسة القطرية للعمل الاجتماعي واليونسكو",
        "Signing of the cooperation agreement between QFSW and UNESCO",
        "today-300T12:30", 0.5, QFSW, (_host(QFSW), _part("demo:unesco")),
        people=(40, 25, 0), sdgs=(4, 5), sectors=("social-development", "education"),
        agreements=("demo:qa-qfsw-unesco",), related=("demo:qfsw-embassies-forum",),
        report_due_days=None,
    ),
    DemoEngagement(
        "demo:wifaq-unicef-family-2022", "workshop",
        "ورشة عمل مع اليونيسف حول الإرشاد الأسري وحماية الطفل",
        "Workshop with UNICEF on family counselling and child protection",
        "2022-05-17T09:00", 6, "demo:qa-qfsw-wifaq",
        (_host("demo:qa-qfsw-wifaq"), _org("demo:unicef")),
        people=(35, 30, 22), sdgs=(5, 16), sectors=("social-development",),
        channel="direct", notified_after_days=3,
        report="Twenty-two counsellors trained on child-protection case management.",
    ),
    DemoEngagement(
        "demo:shafallah-unesco-inclusive-2024", "training",
        "برنامج تدريبي مع اليونسكو حول التعليم الشامل للأشخاص ذوي الإعاقة",
        "Training with UNESCO on inclusive education for persons with disability",
        "2024-10-20T08:30", 30, "demo:qa-qfsw-shafallah",
        (_host("demo:qa-qfsw-shafallah"), _org("demo:unesco")),
        people=(28, 26, 26), sdgs=(4, 10), sectors=("education",), channel="direct",
        report_due_days=21,
    ),
    DemoEngagement(
        "demo:mehe-unesco-sdg4-2024", "meeting",
        "اجتماع مع اليونسكو حول متابعة الهدف الرابع للتنمية المستدامة",
        "Meeting with UNESCO on following up SDG 4",
        "2024-10-08T10:00", 2, "demo:qa-mehe", (_host("demo:qa-mehe"), _part("demo:unesco")),
        people=(12, 8, 0), sdgs=(4,), sectors=("education",), channel="direct",
        outcome="Agreed to share national SDG 4 indicators with the UNESCO Institute for "
        "Statistics.",
    ),
    DemoEngagement(
        "demo:ehsan-ilo-elderly-2025", "meeting",
        "اجتماع مع منظمة العمل الدولية حول تمكين كبار السن في سوق العمل",
        "Meeting with the ILO on older persons in the labour market",
        "2025-02-11T10:00", 2, "demo:qa-qfsw-ehsan",
        (_host("demo:qa-qfsw-ehsan"), _part("demo:ilo")),
        people=(10, 7, 0), sdgs=(8, 10), sectors=("labour",), channel="via_coordinating_body",
        notified_after_days=-5,
    ),
    DemoEngagement(
        "demo:mol-ilo-decent-work-2025", "meeting",
        "اجتماع وزارة العمل مع منظمة العمل الدولية حول العمل اللائق",
        "Ministry of Labour meeting with the ILO on decent work",
        "2025-02-18T09:00", 3, "demo:qa-mol", (_host("demo:qa-mol"), _part("demo:ilo"), _obs(ICD)),
        people=(16, 12, 0), sdgs=(8,), sectors=("labour",), channel="via_coordinating_body",
        related=("demo:ehsan-ilo-elderly-2025",),
        report="Decent-work country programme priorities agreed for 2025-2027.",
        actions=(DemoAction("Draft the 2025-2027 decent-work country programme", "demo:qa-mol",
                            "2025-06-30", "done"),),
    ),
    # --- seed 004: the UN Office of Counter-Terrorism --------------------------------------------
    DemoEngagement(
        "demo:unoct-strategic-dialogue-1", "strategic_dialogue",
        "الجلسة الأولى للحوار الاستراتيجي رفيع المستوى مع مكتب الأمم المتحدة لمكافحة الإرهاب",
        "First high-level strategic dialogue with the UN Office of Counter-Terrorism",
        "2019-11-05T10:00", 6, MOFA, (_host(MOFA), _part("demo:unoct"), _part(ICD), _part(MOI)),
        city="New York", country="US", people=(24, 11, 0), sdgs=(16, 17),
        sectors=("counter-terrorism",), channel="via_coordinating_body",
        report="Partnership priorities agreed: travel programme, victims of terrorism, youth.",
    ),
    DemoEngagement(
        "demo:unoct-strategic-dialogue-2", "strategic_dialogue",
        "الجلسة الثانية للحوار الاستراتيجي رفيع المستوى مع مكتب الأمم المتحدة لمكافحة الإرهاب",
        "Second high-level strategic dialogue with the UN Office of Counter-Terrorism",
        "2020-12-09T14:00", 4, MOFA, (_host(MOFA), _part("demo:unoct"), _part(ICD), _part(MOI)),
        city=None, country=None, virtual=True, people=(30, 14, 0), sdgs=(16, 17),
        sectors=("counter-terrorism",), channel="via_coordinating_body",
        related=("demo:unoct-strategic-dialogue-1",),
        report="Held online; programmes on vulnerable targets and behavioural insights reviewed.",
    ),
    DemoEngagement(
        "demo:unoct-strategic-dialogue-3", "strategic_dialogue",
        "الجلسة الثالثة للحوار الاستراتيجي رفيع المستوى مع مكتب الأمم المتحدة لمكافحة الإرهاب",
        "Third high-level strategic dialogue with the UN Office of Counter-Terrorism",
        "2022-03-15T10:00", 6, MOFA,
        (_host(MOFA), _part("demo:unoct"), _part(ICD), _part(MOI), _part("demo:unodc")),
        people=(36, 18, 0), sdgs=(16, 17), sectors=("counter-terrorism",),
        channel="via_coordinating_body", related=("demo:unoct-strategic-dialogue-2",),
        report="Regional presence in Doha: the International Hub on Behavioural Insights.",
    ),
    DemoEngagement(
        "demo:unoct-strategic-dialogue-4", "strategic_dialogue",
        "الجلسة الرابعة للحوار الاستراتيجي رفيع المستوى مع مكتب الأمم المتحدة لمكافحة الإرهاب",
        "Fourth high-level strategic dialogue with the UN Office of Counter-Terrorism",
        "2023-03-07T10:00", 7, MOFA,
        (_host(MOFA), _part("demo:unoct"), _part(ICD), _part(MOI), _part("demo:unodc"),
         _part("demo:iom")),
        people=(48, 22, 0), sdgs=(16, 17), sectors=("counter-terrorism",),
        channel="via_coordinating_body", related=("demo:unoct-strategic-dialogue-3",),
        agreements=("demo:qa-moi-unoct-fusion-cells",),
        outcome="تجديد الالتزام بالشراكة مع المكتب وتوسيع برامج خلايا الاندماج وإشراك الشباب",
        report="Renewed partnership; fusion-cells programme and youth engagement to be expanded.",
        actions=(
            DemoAction("Nominate the national team for the fusion-cells programme", MOI,
                       "2023-06-30", "done"),
            DemoAction("Host the second beneficiaries forum in Doha", ICD, "2024-03-31", "done"),
        ),
    ),
    DemoEngagement(
        "demo:unoct-beneficiaries-forum-2023", "conference",
        "المنتدى السنوي الأول للمستفيدين من المساعدة الفنية",
        "First annual forum of technical-assistance beneficiaries",
        "2023-03-08T09:00", 8, ICD, (_host(ICD), _org("demo:unoct"), _part("demo:unodc"),
                                     _part(MOI), _part("demo:iom")),
        people=(120, 25, 0), sdgs=(16, 17), sectors=("counter-terrorism",),
        priorities=("results-based-evaluation",), channel="via_coordinating_body",
        related=("demo:unoct-strategic-dialogue-4",),
        report="Results-based evaluation of programmes discussed with beneficiary countries.",
    ),
    DemoEngagement(
        "demo:unoct-beneficiaries-forum-2024", "conference",
        "المنتدى السنوي الثاني للمستفيدين من المساعدة الفنية",
        "Second annual forum of technical-assistance beneficiaries",
        "2024-03-12T09:00", 8, ICD, (_host(ICD), _org("demo:unoct"), _part(MOI)),
        people=(135, 28, 0), sdgs=(16, 17), sectors=("counter-terrorism",),
        priorities=("results-based-evaluation",), channel="via_coordinating_body",
        related=("demo:unoct-beneficiaries-forum-2023",),
    ),
    DemoEngagement(
        "demo:moi-fusion-cells-training-2024", "training",
        "تدريب حول آليات التنسيق الوطنية بين الوكالات (خلايا الاندماج)",
        "Training on national interagency coordination mechanisms (fusion cells)",
        "2024-09-22T08:00", 28, MOI, (_host(MOI), _org("demo:unoct"), _part(ICD)),
        people=(26, 26, 24), sdgs=(16,), sectors=("counter-terrorism",),
        channel="via_coordinating_body", visibility="restricted",
        agreements=("demo:qa-moi-unoct-fusion-cells",),
        report="Handbook and guidelines of the global programme adapted to the national cell.",
    ),
    DemoEngagement(
        "demo:unoct-ct-week-side-event-2022", "event",
        "فعالية جانبية خلال أسبوع الأمم المتحدة لمكافحة الإرهاب",
        "Side event at the UN Counter-Terrorism Week",
        "2022-06-21T13:00", 2, MOFA, (_host(MOFA), _org("demo:unoct")),
        city="New York", country="US", people=(90, 6, 0), sdgs=(16,),
        sectors=("counter-terrorism",), channel="via_coordinating_body", report_due_days=None,
    ),
    # --- seed 000: trainings of nationals and placements in international posts ------------------
    *(
        DemoEngagement(
            f"demo:icd-training-{year}-{month[:2]}", "training",
            f"برنامج بناء القدرات الوطنية في مجال التعاون الدولي {year}",
            f"National capacity building in international cooperation {year}",
            f"{year}-{month}T08:30", 24, ICD, (_host(ICD), _org(partner)),
            city=None if virtual else "Doha", country=None if virtual else "QA", virtual=virtual,
            people=(trained + 4, trained + 2, trained), sdgs=(17,),
            sectors=("international-cooperation",), priorities=("NDS2-IC-1",),
            channel="via_coordinating_body", status=status,
            report=None if status == "planned" else f"{trained} nationals completed the programme.",
        )
        for year, month, partner, trained, virtual, status in (
            (2019, "04-14", "demo:undp", 26, False, "held"),
            (2020, "10-05", "demo:escwa", 12, True, "held"),
            (2021, "03-21", "demo:sesric", 18, True, "held"),
            (2021, "11-07", "demo:undp", 11, False, "held"),
            (2022, "05-15", "demo:escwa", 31, False, "held"),
            (2023, "04-23", "demo:sesric", 33, False, "held"),
            (2024, "02-11", "demo:undp", 29, False, "held"),
            (2025, "01-19", "demo:escwa", 35, False, "held"),
            (2026, "03-08", "demo:sesric", 17, False, "held"),
            (2026, "12-06", "demo:undp", 20, False, "planned"),
        )
    ),
    *(
        DemoEngagement(
            f"demo:placement-{year}-{org.removeprefix('demo:')}", "placement",
            f"إلحاق كوادر قطرية بوظائف في {ar}",
            f"Qatari nationals placed in posts at {en}",
            f"{year}-{month}T09:00", 0, ICD, (_host(org),),
            city=None, country=None, people=(placed, placed, 0), sdgs=(17,),
            sectors=("international-cooperation",), priorities=("NDS2-IC-2",),
            channel="via_coordinating_body", report_due_days=None,
        )
        for year, month, org, ar, en, placed in (
            (2019, "09-01", "demo:undp", "برنامج الأمم المتحدة الإنمائي", "UNDP", 3),
            (2019, "10-01", "demo:escwa", "الإسكوا", "ESCWA", 1),
            (2020, "02-01", "demo:oic", "منظمة التعاون الإسلامي", "the OIC", 3),
            (2021, "01-10", "demo:isdb", "البنك الإسلامي للتنمية", "the IsDB", 2),
            (2021, "09-01", "demo:unoct", "مكتب الأمم المتحدة لمكافحة الإرهاب", "UNOCT", 4),
            (2022, "03-01", "demo:wbg", "مجموعة البنك الدولي", "the World Bank Group", 5),
            (2022, "09-15", "demo:gcc", "مجلس التعاون الخليجي", "the GCC Secretariat", 3),
            (2023, "06-01", "demo:ocha", "مكتب تنسيق الشؤون الإنسانية", "OCHA", 4),
            (2024, "01-15", "demo:unicef", "اليونيسف", "UNICEF", 3),
            (2025, "02-01", "demo:imf", "صندوق النقد الدولي", "the IMF", 2),
            (2026, "01-10", "demo:arab-league", "جامعة الدول العربية", "the Arab League", 3),
        )
    ),
    # --- other ministries: some through the coordinating body, some direct -----------------------
    DemoEngagement(
        "demo:moph-unicef-immunisation-2022", "meeting",
        "اجتماع وزارة الصحة العامة مع اليونيسف حول برامج التحصين",
        "Ministry of Public Health meeting with UNICEF on immunisation",
        "2022-08-14T10:00", 2, "demo:qa-moph", (_host("demo:qa-moph"), _part("demo:unicef")),
        people=(9, 6, 0), sdgs=(3,), sectors=("health",), channel="direct",
        notified_after_days=4,
    ),
    DemoEngagement(
        "demo:mol-ilo-visit-2020", "visit",
        "زيارة وفد منظمة العمل الدولية إلى وزارة العمل",
        "ILO delegation visit to the Ministry of Labour",
        "2020-03-22T09:00", 8, "demo:qa-mol", (_host("demo:qa-mol"), _part("demo:ilo")),
        people=(0, 0, 0), sdgs=(8,), sectors=("labour",), channel="via_coordinating_body",
        status="cancelled", report_due_days=None,
    ),
    DemoEngagement(
        "demo:mol-iom-migration-2024", "meeting",
        "اجتماع وزارة العمل مع المنظمة الدولية للهجرة حول الهجرة العادلة",
        "Ministry of Labour meeting with IOM on fair labour migration",
        "2024-06-03T10:00", 2, "demo:qa-mol", (_host("demo:qa-mol"), _part("demo:iom")),
        people=(14, 9, 0), sdgs=(8, 10), sectors=("labour", "migration"), channel="direct",
        report_due_days=14,
    ),
    DemoEngagement(
        "demo:psa-escwa-statistics-2023", "workshop",
        "ورشة عمل مع الإسكوا حول إحصاءات أهداف التنمية المستدامة",
        "Workshop with ESCWA on SDG statistics",
        "2023-11-12T08:30", 14, "demo:qa-psa", (_host("demo:qa-psa"), _org("demo:escwa")),
        people=(32, 30, 30), sdgs=(17,), sectors=("statistics",), channel="via_coordinating_body",
        report="Thirty statisticians trained on SDG indicator metadata and disaggregation.",
    ),
    DemoEngagement(
        "demo:psa-sesric-2025", "technical_assistance",
        "مساعدة فنية من سيسرك في مسح القوى العاملة",
        "Technical assistance from SESRIC on the labour force survey",
        "2025-09-14T09:00", 40, "demo:qa-psa", (_host("demo:qa-psa"), _part("demo:sesric")),
        people=(12, 10, 10), sdgs=(8, 17), sectors=("statistics",), channel="direct",
        report_due_days=30,
        actions=(
            DemoAction("Publish the revised survey methodology", "demo:qa-psa", "2025-12-31"),
        ),
    ),
    DemoEngagement(
        "demo:mehe-unesco-correspondence-2021", "correspondence",
        "مراسلات مع اليونسكو حول استئناف التعليم بعد الجائحة",
        "Correspondence with UNESCO on resuming education after the pandemic",
        "2021-02-03T09:00", 0, "demo:qa-mehe", (_host("demo:qa-mehe"), _part("demo:unesco")),
        city=None, country=None, people=(0, 0, 0), sdgs=(4,), sectors=("education",),
        channel="via_coordinating_body", report_due_days=None,
    ),
    DemoEngagement(
        "demo:msdf-unfpa-planned-2026", "meeting",
        "اجتماع مع صندوق الأمم المتحدة للسكان حول سياسات الأسرة",
        "Meeting with UNFPA on family policy",
        "2026-12-14T10:00", 2, "demo:qa-msdf", (_host("demo:qa-msdf"), _part("demo:unfpa")),
        sdgs=(5,), sectors=("social-development",), channel="unknown", status="planned",
    ),
    # --- seed 003: Syria's Directorate of International Cooperation ------------------------------
    DemoEngagement(
        "demo:dic-undp-local-development-2021", "meeting",
        "اجتماع مديرية التعاون الدولي مع برنامج الأمم المتحدة الإنمائي حول التنمية المحلية",
        "Directorate of International Cooperation meeting with UNDP on local development",
        "2021-06-13T10:00", 3, DIC, (_host(DIC), _part("demo:undp"), _obs(MOFAE)),
        city="Damascus", country="SY", people=(15, 11, 0), sdgs=(11, 17),
        sectors=("local-development",), channel="via_coordinating_body",
        agreements=("demo:sy-dic-undp-mou",),
        report="Priorities of the MoU's work plan for the administrative units agreed.",
    ),
    DemoEngagement(
        "demo:dic-unicef-wash-2022", "meeting",
        "اجتماع مع اليونيسف حول خدمات المياه والصرف الصحي في الوحدات الإدارية",
        "Meeting with UNICEF on water and sanitation services in the administrative units",
        "2022-09-18T10:00", 3, DIC, (_host(DIC), _part("demo:unicef"), _obs(MOFAE)),
        city="Damascus", country="SY", people=(12, 9, 0), sdgs=(6,), sectors=("environment",),
        channel="via_coordinating_body", agreements=("demo:sy-dic-unicef-mou",),
    ),
    DemoEngagement(
        "demo:dic-escwa-local-data-2023", "workshop",
        "ورشة عمل مع الإسكوا حول البيانات المحلية للتنمية المستدامة",
        "Workshop with ESCWA on local data for sustainable development",
        "2023-05-09T09:00", 12, DIC, (_host(DIC), _org("demo:escwa")),
        city="Damascus", country="SY", people=(22, 20, 20), sdgs=(11, 17),
        sectors=("statistics",), channel="direct",
        agreements=("demo:sy-dic-escwa-local-data",),
        report="Twenty staff of the administrative units trained on local SDG data.",
        actions=(DemoAction("Pilot the local indicators in two governorates", DIC, "2023-12-31",
                            "in_progress"),),
    ),
    DemoEngagement(
        "demo:dic-undp-followup-2024", "meeting",
        "اجتماع متابعة تنفيذ مذكرة التفاهم مع برنامج الأمم المتحدة الإنمائي",
        "Follow-up of the MoU with UNDP",
        "2024-11-05T10:00", 2, DIC, (_host(DIC), _part("demo:undp"), _part(MOFAE)),
        city="Damascus", country="SY", people=(10, 7, 0), sdgs=(11,),
        sectors=("local-development",), channel="via_coordinating_body",
        agreements=("demo:sy-dic-undp-mou",), related=("demo:dic-undp-local-development-2021",),
        report="Mid-term review of the MoU: two projects on track, one delayed by funding.",
    ),
    DemoEngagement(
        "demo:dic-iom-2025", "meeting",
        "اجتماع مع المنظمة الدولية للهجرة حول دعم المجتمعات المحلية",
        "Meeting with IOM on support to local communities",
        "2025-10-20T10:00", 2, DIC, (_host(DIC), _part("demo:iom")),
        city="Damascus", country="SY", people=(8, 6, 0), sdgs=(10, 11),
        sectors=("local-development",), channel="direct", report_due_days=14,
    ),
    DemoEngagement(
        "demo:mlae-undp-environment-2026", "correspondence",
        "مراسلات وزارة الإدارة المحلية والبيئة مع برنامج الأمم المتحدة الإنمائي حول التكيف المناخي",
        "Correspondence of the Ministry of Local Administration and Environment with UNDP on "
        "climate adaptation",
        "2026-04-12T09:00", 0, "demo:sy-mlae", (_host("demo:sy-mlae"), _part("demo:undp"),
                                                _part(MOFAE)),
        city=None, country=None, sdgs=(13,), sectors=("environment",),
        channel="via_coordinating_body", report_due_days=None,
    ),
]  # fmt: skip


def every_org_key() -> set[str]:
    return set().union(*(demo.organizations() for demo in DEMO_ENGAGEMENTS))


def _moment(text: str, today: datetime) -> datetime:
    """ISO, or `today-N` days before the day of seeding (dates near today stay near it)."""
    day, _, time = text.partition("T")
    if day.startswith("today-"):
        day = (today - timedelta(days=int(day.removeprefix("today-")))).date().isoformat()
    return datetime.fromisoformat(f"{day}T{time or '09:00'}:00+03:00")


def fields_of(
    demo: DemoEngagement,
    orgs: Mapping[str, str],
    agreements: Mapping[str, str],
    engagements: Mapping[str, str],
    today: datetime,
) -> dict[str, Any]:
    start = _moment(demo.start, today)
    end = start + timedelta(hours=demo.hours)
    total, nationals, trained = demo.people
    notified = (
        None
        if demo.notified_after_days is None
        else (start + timedelta(days=demo.notified_after_days)).isoformat()
    )
    return {
        "kind": demo.kind,
        "title": {"ar": demo.ar, "en": demo.en},
        "start": start.isoformat(),
        "end": end.isoformat(),
        "location": {"city": demo.city, "country": demo.country, "virtual": demo.virtual},
        "lead_org_id": orgs[demo.lead],
        "participants": [{"org_id": orgs[key], "role": role} for key, role in demo.participants],
        "attendees": {"total": total, "nationals": nationals, "nationals_trained": trained},
        "agreement_ids": [agreements[key] for key in demo.agreements if key in agreements],
        "related_engagement_ids": [engagements[key] for key in demo.related if key in engagements],
        "themes": {
            "sdgs": list(demo.sdgs),
            "sectors": list(demo.sectors),
            "priorities": list(demo.priorities),
        },
        "report_due_on": (
            None
            if demo.report_due_days is None
            else (end + timedelta(days=demo.report_due_days)).date().isoformat()
        ),
        "channel": demo.channel,
        "coordinating_body_notified_at": notified,
        "status": demo.status,
        "visibility": demo.visibility,
        "outcome": demo.outcome,
        "source": SOURCE,
        "external_id": demo.key,
    }


async def seed(
    db: Database,
    settings: EngagementsSettings,
    organizations: Iterable[Mapping[str, Any]] | None = None,
    agreements: Iterable[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Create the demo engagements that are missing; report created, kept and failed.

    `organizations` / `agreements`: the owners' representations (with their `source_key`);
    without them they are read from the owners' topics.
    """
    wanted = every_org_key()
    if organizations is None:
        organizations = await topic_states(
            settings, ORGANIZATION_TOPIC, wanted, wait_s=settings.demo_wait_s
        )
    if agreements is None:
        # The agreements service seeds just before: give its events a moment to be published.
        wanted_agreements = {key for demo in DEMO_ENGAGEMENTS for key in demo.agreements}
        agreements = await topic_states(
            settings, AGREEMENT_TOPIC, wanted_agreements, wait_s=min(10.0, settings.demo_wait_s)
        )
    orgs_by_key = _latest_by_source_key(organizations)
    agreements_by_key = _latest_by_source_key(agreements)
    await _replicate(db, orgs_by_key.values(), agreements_by_key.values())
    org_ids = {key: str(state["id"]) for key, state in orgs_by_key.items()}
    agreement_ids = {key: str(state["id"]) for key, state in agreements_by_key.items()}
    report: dict[str, Any] = {"created": 0, "kept": 0, "failed": 0, "errors": [], "ids": {}}
    today = datetime.now(UTC)
    lookups = build_lookups(settings)
    for demo in DEMO_ENGAGEMENTS:
        missing = sorted(demo.organizations() - org_ids.keys())
        if missing:
            report["failed"] += 1
            report["errors"].append(
                {
                    "key": demo.key,
                    "error": f"the registry's demo organizations {', '.join(missing)} have not "
                    "reached the engagements service; run `tansiq seed` again once the "
                    "registry is running",
                }
            )
            continue
        uow = UnitOfWork(db.sessionmaker, actor=SEED_ACTOR)
        try:
            async with uow:
                service = EngagementService(uow, lookups)
                existing = await service.repo.find_by_key(SOURCE, demo.key)
                if existing is not None:
                    report["kept"] += 1
                    report["ids"][demo.key] = existing
                    continue
                fields = fields_of(demo, org_ids, agreement_ids, report["ids"], today)
                engagement = await service.register(fields)
                await _follow_up(service, engagement, demo, org_ids, today)
                await service.repo.save(engagement)
            report["created"] += 1
            report["ids"][demo.key] = engagement.id
        except DomainError as exc:
            report["failed"] += 1
            report["errors"].append({"key": demo.key, "error": exc.message, "errors": exc.errors})
    return report


async def _follow_up(
    service: EngagementService,
    engagement: Engagement,
    demo: DemoEngagement,
    orgs: Mapping[str, str],
    today: datetime,
) -> None:
    """The report and action items a demo engagement came with."""
    now = datetime.now(UTC)
    if demo.report is not None and engagement.status is Status.held:
        filed = (engagement.end or engagement.start) + timedelta(days=demo.report_after_days)
        engagement.submit_report(
            text=demo.report,
            attachments=[],
            by=SEED_ACTOR.sub,
            by_org=orgs[demo.lead],
            now=now,
            submitted_at=min(filed, now),
        )
    owners = await service.organizations([orgs[action.owner] for action in demo.actions])
    for number, action in enumerate(demo.actions):
        fields = {
            "title": action.title,
            "owner_org_id": orgs[action.owner],
            "due_on": _moment(action.due_on, today).date().isoformat(),
            "status": action.status,
        }
        engagement.add_action_item(
            item_id=str(uuid.uuid5(DEMO_NAMESPACE, f"{demo.key}#{number}")),
            fields=fields,
            refs=owners,
            now=now,
        )


def _latest_by_source_key(states: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for state in states:
        key = state.get("source_key")
        if not isinstance(key, str) or state.get("id") is None:
            continue
        version = state.get("version") or 0
        if key not in found or version > (found[key].get("version") or 0):
            found[key] = state
    return found


@dataclass
class _Event:
    data: dict[str, Any]


async def _replicate(
    db: Database,
    organizations: Iterable[Mapping[str, Any]],
    agreements: Iterable[Mapping[str, Any]],
) -> None:
    """Apply the owners' states to the replicas as the consumers would (newer versions only)."""
    async with db.sessionmaker() as session, session.begin():
        for state in organizations:
            if isinstance(state.get("version"), int):
                await apply_organization_event(session, _Event(dict(state)))
        for state in agreements:
            try:
                await apply_agreement_event(session, _Event(dict(state)))
            except InvalidEvent:
                continue


async def topic_states(
    settings: EngagementsSettings, logical_topic: str, wanted: set[str], *, wait_s: float
) -> list[dict[str, Any]]:
    """The latest state of each record on an owner's topic, read from the start: up to the end
    the topic had when reading began, and on until every `wanted` source key was seen or
    `wait_s` passed. Only the topic producer's catalogued events count, as for a consumer."""
    topic = settings.topic(logical_topic)
    contract = contract_for(logical_topic)
    consumer = group_consumer(
        settings.kafka_bootstrap_servers,
        security=settings.kafka_security(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    found: dict[str, dict[str, Any]] = {}
    try:
        await asyncio.wait_for(consumer.start(), timeout=max(wait_s, 5.0))
    except Exception as exc:
        log.warning("cannot read %s for the demo data: %r", topic, exc)
        return []
    try:
        partitions: list[TopicPartition] = []
        while not partitions:
            await consumer._client.force_metadata_update()
            known = consumer.partitions_for_topic(topic)
            if known:
                partitions = [TopicPartition(topic, p) for p in sorted(known)]
            elif loop.time() >= deadline:
                return []
            else:
                await asyncio.sleep(0.5)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    _collect(record, contract, found)
            caught_up = all([await consumer.position(tp) >= ends[tp] for tp in partitions])
            if caught_up and (wanted <= found.keys() or loop.time() >= deadline):
                break
    finally:
        await consumer.stop()
    return list(found.values())


def _collect(record: Any, contract: Any, found: dict[str, dict[str, Any]]) -> None:
    try:
        envelope = Envelope.from_record(record)
    except InvalidEvent:
        return
    if contract.violation(envelope.source, envelope.type) is not None:
        return
    data = envelope.data
    key, version = data.get("source_key"), data.get("version")
    if not isinstance(key, str) or not isinstance(version, int):
        return
    if key not in found or version > found[key].get("version", 0):
        found[key] = data
