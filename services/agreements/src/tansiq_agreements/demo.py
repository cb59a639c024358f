"""Demo data: agreements of the demo organizations (docs/architecture.md), loaded by
`tansiq seed` after the registry's demo organizations.

- the Qatar Foundation for Social Work's cooperation agreement with UNESCO, signed at its forum
  with embassies and UN offices without going through the coordinating body (seed 002);
- the development partnership agreements of the International Cooperation Department that
  count toward the strategy's target of three by the end of 2022 (seed 000), one renewed;
- the MoUs Syria's Directorate of International Cooperation follows up, cleared (or returned)
  by the Ministry of Foreign Affairs and Expatriates (seed 003);
- a restricted technical-assistance agreement on interagency coordination (seed 004).

Some are cleared, one is signed without clearance, some expire within the next three months,
some have expired; dates near today are computed from the day of seeding. Each agreement is
keyed by a `demo:` source key: one that is there already is kept as users left it, so seeding
again changes nothing.

The organizations are found by their registry source keys: handed in by the caller
(`organizations`: the registry's representations, e.g. by `tansiq seed`, which has just loaded
them), or read from the registry's topic on Kafka, waiting up to AGREEMENTS_DEMO_WAIT_S for them
to be published. Either way they are applied to this service's organization replica (as its
consumer would: only a newer version changes a row), so the agreements are checked against the
registry exactly as a user's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka import TopicPartition
from tansiq_common.auth import ORGANIZATION_TOPIC, apply_organization_event
from tansiq_common.db import Database
from tansiq_common.domain import DomainError
from tansiq_common.events.contracts import contract_for
from tansiq_common.events.envelope import Envelope, InvalidEvent
from tansiq_common.events.kafka import group_consumer
from tansiq_common.problems import Problem
from tansiq_common.uow import SystemActor, UnitOfWork

from tansiq_agreements.agreements.organizations import organization_lookup
from tansiq_agreements.agreements.service import AgreementService
from tansiq_agreements.settings import AgreementsSettings

log = logging.getLogger(__name__)

SEED_ACTOR = SystemActor(sub="tansiq-seed", roles=frozenset({"editor", "coordinator"}))

# The coordinating bodies that decide clearance in the demo.
QA_CLEARING = "demo:qa-mofa-icd"
SY_CLEARING = "demo:sy-mofae"

# Steps after creation: (action, what it is given). Organization keys name coordinating bodies.
Step = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class DemoAgreement:
    key: str
    fields: Callable[[Mapping[str, str], date], dict[str, Any]]  # (org ids by key, today)
    steps: Callable[[date], list[Step]] = lambda today: []
    renews: str | None = None  # the key of the agreement this one renews
    org_keys: tuple[str, ...] = field(default=())


def _party(org: str, role: str = "signatory") -> dict[str, str]:
    return {"org_id": org, "role": role}


def _cleared(by: str, conditions: str | None = None) -> list[Step]:
    return [("submit", {}), ("clear", {"on_behalf_of": by, "conditions": conditions})]


def _in_force(signed_on: date, effective_from: date) -> list[Step]:
    return [
        ("sign", {"signed_on": signed_on}),
        ("enter-into-force", {"effective_from": effective_from}),
    ]


def _qfsw_unesco(o: Mapping[str, str], today: date) -> dict[str, Any]:
    signed = today - timedelta(days=300)
    return {
        "kind": "cooperation_agreement",
        "title": {
            "ar": "اتفاقية تعاون بين المؤسسة القطرية للعمل الاجتماعي ومنظمة الأمم المتحدة للتربية "
            "والعلم والثقافة (اليونسكو)",
            "en": "Cooperation agreement between the Qatar Foundation for Social Work and UNESCO",
        },
        "summary": {
            "ar": "التعاون في مجالات التنمية الاجتماعية والبشرية وسياسات وممارسات التعليم الشامل "
            "وتمكين المرأة والشباب، وتعزيز دور مكتب اليونسكو الإقليمي وتبادل الخبرات.",
            "en": "Cooperation on social and human development, inclusive education policies "
            "and practices, and the empowerment of women and youth; signed at the Foundation's "
            "forum with embassies, ministries and UN offices in Qatar.",
        },
        "owner_org_id": o["demo:qa-qfsw"],
        "parties": [_party(o["demo:qa-qfsw"]), _party(o["demo:unesco"])],
        "themes": {
            "sdgs": [4, 5, 10],
            "sectors": ["social-development", "education"],
            "priorities": ["QNV2030-HUMAN"],
        },
        "effective_from": signed.isoformat(),
        "expires_on": (signed + timedelta(days=3 * 365)).isoformat(),
        "visibility": "interagency",
    }


def _qfsw_unesco_steps(today: date) -> list[Step]:
    signed = today - timedelta(days=300)
    # Signed at the forum, directly: never submitted to the coordinating body.
    return _in_force(signed, signed)


def _partnership(
    partner: str, en: str, ar: str, sdgs: list[int], sectors: list[str], expires_on: str
) -> Callable[[Mapping[str, str], date], dict[str, Any]]:
    def fields(o: Mapping[str, str], today: date) -> dict[str, Any]:
        return {
            "kind": "partnership_agreement",
            "title": {"ar": ar, "en": en},
            "summary": {
                "en": "A development partnership agreement under the international cooperation "
                "sector strategy (target: three by the end of 2022).",
                "ar": "اتفاقية شراكة تنموية ضمن استراتيجية قطاع التعاون الدولي "
                "(الهدف: ثلاث اتفاقيات بنهاية 2022).",
            },
            "owner_org_id": o["demo:qa-mofa-icd"],
            "parties": [_party(o["demo:qa-mofa-icd"]), _party(o[partner])],
            "themes": {"sdgs": sdgs, "sectors": sectors, "priorities": ["NDS2-IC-1"]},
            "effective_from": None,
            "expires_on": expires_on if expires_on[0].isdigit() else _relative(today, expires_on),
            "visibility": "interagency",
        }

    return fields


def _relative(today: date, spec: str) -> str:
    """`+60` → today + 60 days, as ISO text."""
    return (today + timedelta(days=int(spec))).isoformat()


def _syria(
    partner: str,
    kind: str,
    en: str,
    ar: str,
    sdgs: list[int],
    sectors: list[str],
    *,
    funding: str | None = None,
    expires_in_days: int | None = None,
) -> Callable[[Mapping[str, str], date], dict[str, Any]]:
    def fields(o: Mapping[str, str], today: date) -> dict[str, Any]:
        dic = o["demo:sy-mlae-dic"]
        return {
            "kind": kind,
            "title": {"ar": ar, "en": en},
            "summary": {
                "ar": "تتابعها مديرية التعاون الدولي في وزارة الإدارة المحلية والبيئة، بالتنسيق "
                "مع وزارة الخارجية والمغتربين وبما ينسجم مع القوانين والسياسات الوطنية.",
                "en": "Followed up by the Directorate of International Cooperation of the Ministry "
                "of Local Administration and Environment, in coordination with the Ministry of "
                "Foreign Affairs and Expatriates and in line with national law.",
            },
            "owner_org_id": dic,
            "parties": [
                _party(dic),
                _party(o[partner], "funder" if funding else "implementer"),
                _party(o["demo:sy-mlae"], "beneficiary"),
            ],
            "themes": {"sdgs": sdgs, "sectors": sectors, "priorities": ["SY-LOCAL-DEV"]},
            "effective_from": None,
            "expires_on": (
                (today + timedelta(days=expires_in_days)).isoformat()
                if expires_in_days is not None
                else None
            ),
            "funding": (
                [{"funder_org_id": o[partner], "amount": funding, "currency": "USD"}]
                if funding
                else []
            ),
            "visibility": "interagency",
        }

    return fields


def _moi_unoct(o: Mapping[str, str], today: date) -> dict[str, Any]:
    return {
        "kind": "technical_assistance",
        "title": {
            "ar": "اتفاقية مساعدة فنية بشأن آليات التنسيق الوطني المشترك بين الوكالات "
            "(خلايا الاندماج)",
            "en": "Technical assistance on national interagency coordination mechanisms "
            "(fusion cells)",
        },
        "summary": {
            "en": "Support to the global programme on national interagency coordination "
            "mechanisms: strategic dialogue sessions, a forum of technical-assistance "
            "beneficiaries and a results-based evaluation.",
        },
        "owner_org_id": o["demo:qa-moi"],
        "parties": [_party(o["demo:qa-moi"], "funder"), _party(o["demo:unoct"], "implementer")],
        "themes": {"sdgs": [16, 17], "sectors": ["security"], "priorities": ["NDS2-IC-3"]},
        "effective_from": None,
        "expires_on": _relative(today, "+700"),
        "funding": [{"funder_org_id": o["demo:qa-moi"], "amount": "2500000.00", "currency": "USD"}],
        "visibility": "restricted",
    }


def _mol_ilo(o: Mapping[str, str], today: date) -> dict[str, Any]:
    return {
        "kind": "mou",
        "title": {
            "ar": "مذكرة تفاهم للتعاون الفني مع منظمة العمل الدولية",
            "en": "Memorandum of understanding on technical cooperation with the ILO",
        },
        "owner_org_id": o["demo:qa-mol"],
        "parties": [_party(o["demo:qa-mol"]), _party(o["demo:ilo"])],
        "themes": {"sdgs": [8], "sectors": ["labour"], "priorities": ["NDS2-LM-2"]},
        "effective_from": None,
        "expires_on": _relative(today, "+40"),
        "visibility": "interagency",
    }


def _mehe_unesco(o: Mapping[str, str], today: date) -> dict[str, Any]:
    return {
        "kind": "letter_of_intent",
        "title": {
            "ar": "خطاب نوايا بشأن التعليم الشامل",
            "en": "Letter of intent on inclusive education",
        },
        "owner_org_id": o["demo:qa-mehe"],
        "parties": [_party(o["demo:qa-mehe"]), _party(o["demo:unesco"])],
        "themes": {"sdgs": [4], "sectors": ["education"], "priorities": []},
        "visibility": "interagency",
    }


DEMO_AGREEMENTS: list[DemoAgreement] = [
    DemoAgreement(
        "demo:qa-qfsw-unesco",
        _qfsw_unesco,
        _qfsw_unesco_steps,
        org_keys=("demo:qa-qfsw", "demo:unesco"),
    ),
    DemoAgreement(
        "demo:qa-icd-undp-partnership-2018",
        _partnership(
            "demo:undp",
            "Development partnership on South-South cooperation with UNDP",
            "اتفاقية شراكة تنموية للتعاون فيما بين بلدان الجنوب مع برنامج الأمم المتحدة الإنمائي",
            [17],
            ["development-cooperation"],
            "2023-12-31",
        ),
        lambda today: [
            *_cleared(QA_CLEARING),
            *_in_force(date(2018, 11, 20), date(2019, 1, 1)),
            ("expire", {}),
        ],
        org_keys=("demo:qa-mofa-icd", "demo:undp"),
    ),
    DemoAgreement(
        "demo:qa-icd-escwa-partnership-2020",
        _partnership(
            "demo:escwa",
            "Partnership on SDG monitoring and development statistics with ESCWA",
            "اتفاقية شراكة بشأن رصد أهداف التنمية المستدامة والإحصاءات التنموية مع الإسكوا",
            [17, 16],
            ["statistics"],
            "2025-06-30",
        ),
        lambda today: [
            *_cleared(QA_CLEARING),
            *_in_force(date(2020, 6, 15), date(2020, 7, 1)),
            ("expire", {}),
        ],
        org_keys=("demo:qa-mofa-icd", "demo:escwa"),
    ),
    # The renewal of the ESCWA partnership: it supersedes the 2020 agreement.
    DemoAgreement(
        "demo:qa-icd-escwa-partnership-2025",
        lambda o, today: {"effective_from": None, "expires_on": "2030-06-30"},
        lambda today: [
            *_cleared(QA_CLEARING, "Report progress to the International Cooperation Department."),
            *_in_force(date(2025, 6, 20), date(2025, 7, 1)),
        ],
        renews="demo:qa-icd-escwa-partnership-2020",
        org_keys=("demo:qa-mofa-icd", "demo:escwa"),
    ),
    DemoAgreement(
        "demo:qa-icd-sesric-partnership-2022",
        _partnership(
            "demo:sesric",
            "Partnership on capacity building in international cooperation with SESRIC",
            "اتفاقية شراكة لبناء القدرات الوطنية في مجال التعاون الدولي مع سيسرك",
            [17, 4],
            ["capacity-building"],
            "+60",
        ),
        lambda today: [
            *_cleared(QA_CLEARING),
            *_in_force(date(2022, 11, 28), date(2023, 1, 1)),
        ],
        org_keys=("demo:qa-mofa-icd", "demo:sesric"),
    ),
    DemoAgreement(
        "demo:qa-moi-unoct-fusion-cells",
        _moi_unoct,
        lambda today: [
            *_cleared(QA_CLEARING, "Restricted: share with the coordination cell only."),
            *_in_force(today - timedelta(days=400), today - timedelta(days=380)),
        ],
        org_keys=("demo:qa-moi", "demo:unoct"),
    ),
    DemoAgreement(
        "demo:qa-mol-ilo-mou",
        _mol_ilo,
        lambda today: [
            *_cleared(QA_CLEARING),
            *_in_force(today - timedelta(days=3 * 365 - 40), today - timedelta(days=3 * 365 - 40)),
        ],
        org_keys=("demo:qa-mol", "demo:ilo"),
    ),
    DemoAgreement(
        "demo:qa-mehe-unesco-loi",
        _mehe_unesco,
        org_keys=("demo:qa-mehe", "demo:unesco"),
    ),
    DemoAgreement(
        "demo:sy-dic-undp-mou",
        _syria(
            "demo:undp",
            "mou",
            "Memorandum of understanding on local development and environmental rehabilitation",
            "مذكرة تفاهم بشأن التنمية المحلية وإعادة التأهيل البيئي في الوحدات الإدارية",
            [11, 13, 6],
            ["local-development", "environment"],
            funding="1200000.00",
            expires_in_days=75,
        ),
        lambda today: [
            *_cleared(
                SY_CLEARING,
                "In line with the national law on external cooperation; progress reports to the "
                "Ministry of Foreign Affairs and Expatriates every six months.",
            ),
            *_in_force(today - timedelta(days=700), today - timedelta(days=690)),
        ],
        org_keys=("demo:sy-mlae-dic", "demo:undp", "demo:sy-mlae"),
    ),
    DemoAgreement(
        "demo:sy-dic-unicef-mou",
        _syria(
            "demo:unicef",
            "mou",
            "Memorandum of understanding on water and sanitation services in administrative units",
            "مذكرة تفاهم بشأن خدمات المياه والصرف الصحي في الوحدات الإدارية",
            [6],
            ["water-sanitation"],
            expires_in_days=3 * 365,
        ),
        lambda today: [("submit", {})],
        org_keys=("demo:sy-mlae-dic", "demo:unicef", "demo:sy-mlae"),
    ),
    DemoAgreement(
        "demo:sy-dic-escwa-local-data",
        _syria(
            "demo:escwa",
            "technical_assistance",
            "Technical assistance on local governance data",
            "مساعدة فنية بشأن بيانات الحوكمة المحلية",
            [16, 17],
            ["statistics", "local-development"],
            expires_in_days=2 * 365,
        ),
        lambda today: [
            ("submit", {}),
            (
                "return",
                {
                    "on_behalf_of": SY_CLEARING,
                    "comments": "Specify the data-sharing arrangements and the national "
                    "counterpart of each activity before resubmitting.",
                },
            ),
        ],
        org_keys=("demo:sy-mlae-dic", "demo:escwa", "demo:sy-mlae"),
    ),
]

MILESTONES: dict[str, list[tuple[str, int, str, str]]] = {
    # agreement key → (title, due in days from today, responsible org key, status)
    "demo:qa-qfsw-unesco": [
        ("Joint workshop on inclusive education for the Foundation's centres", 45,
         "demo:unesco", "pending"),
        ("Annual report to the Ministry of Social Development and Family", -20,
         "demo:qa-qfsw", "done"),
    ],
    "demo:sy-dic-undp-mou": [
        ("Six-monthly progress report to the Ministry of Foreign Affairs and Expatriates", -15,
         "demo:sy-mlae-dic", "pending"),
        ("Rehabilitation plan for three administrative units", 30, "demo:undp", "in_progress"),
    ],
    "demo:qa-icd-sesric-partnership-2022": [
        ("Training of 30 national staff in international cooperation", 20,
         "demo:sesric", "in_progress"),
    ],
}  # fmt: skip


def _every_org_key() -> set[str]:
    keys = {QA_CLEARING, SY_CLEARING}
    for demo in DEMO_AGREEMENTS:
        keys.update(demo.org_keys)
    return keys


async def seed(
    db: Database,
    settings: AgreementsSettings,
    organizations: Iterable[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Create the demo agreements that are missing; report created, kept and failed.

    `organizations`: the registry's representations of (at least) the demo organizations;
    without them they are read from the registry's topic.
    """
    wanted = _every_org_key()
    states = (
        list(organizations)
        if organizations is not None
        else await registry_organizations(settings, wanted, wait_s=settings.demo_wait_s)
    )
    by_key = _latest_by_source_key(states)
    await _replicate(db, by_key.values())
    ids = {key: str(state["id"]) for key, state in by_key.items()}
    report: dict[str, Any] = {"created": 0, "kept": 0, "failed": 0, "errors": [], "ids": {}}
    today = datetime.now(UTC).date()
    lookup = organization_lookup(settings.registry_base_url, timeout_s=settings.registry_timeout_s)
    for demo in DEMO_AGREEMENTS:
        missing = sorted(k for k in (*demo.org_keys, QA_CLEARING, SY_CLEARING) if k not in ids)
        if missing:
            report["failed"] += 1
            report["errors"].append(
                {
                    "key": demo.key,
                    "error": "the registry's demo organizations "
                    f"{', '.join(missing)} have not reached the agreements service; "
                    "run `tansiq seed` again once the registry is running",
                }
            )
            continue
        service = AgreementService(UnitOfWork(db.sessionmaker, actor=SEED_ACTOR), lookup)
        try:
            async with service.unit():
                existing = await service.repo.find_by_source_key(demo.key)
                if existing is not None:
                    report["kept"] += 1
                    report["ids"][demo.key] = existing.id
                    continue
                agreement_id = await _create(service, demo, ids, today, report["ids"])
            report["created"] += 1
            report["ids"][demo.key] = agreement_id
        except (DomainError, Problem) as exc:
            report["failed"] += 1
            report["errors"].append({"key": demo.key, "error": str(exc)})
    return report


async def _create(
    service: AgreementService,
    demo: DemoAgreement,
    ids: Mapping[str, str],
    today: date,
    created: Mapping[str, str],
) -> str:
    fields = demo.fields(ids, today)
    if demo.renews is not None:
        predecessor = created.get(demo.renews)
        if predecessor is None:
            found = await service.repo.find_by_source_key(demo.renews)
            if found is None:
                raise _SeedError(f"{demo.renews}, which it renews, is not there")
            predecessor = found.id
        agreement = await service.renew(predecessor, None, fields, source_key=demo.key)
    else:
        agreement = await service.create(fields, source_key=demo.key)
    for action, given in demo.steps(today):
        agreement = await _step(service, agreement.id, action, given, ids)
    for title, due_in, responsible, status in MILESTONES.get(demo.key, []):
        await service.add_milestone(
            agreement.id,
            {
                "title": title,
                "due_on": (today + timedelta(days=due_in)).isoformat(),
                "responsible_org_id": ids[responsible],
                "status": status,
            },
            None,
        )
    return agreement.id


async def _step(
    service: AgreementService,
    agreement_id: str,
    action: str,
    given: Mapping[str, Any],
    ids: Mapping[str, str],
) -> Any:
    if action == "submit":
        return await service.submit(agreement_id, None)
    if action == "clear":
        return await service.clear(
            agreement_id,
            None,
            conditions=given.get("conditions"),
            on_behalf_of=ids[given["on_behalf_of"]],
        )
    if action == "return":
        return await service.return_(
            agreement_id, None, comments=given["comments"], on_behalf_of=ids[given["on_behalf_of"]]
        )
    if action == "sign":
        return await service.sign(agreement_id, None, signed_on=given["signed_on"])
    if action == "enter-into-force":
        return await service.enter_into_force(
            agreement_id, None, effective_from=given["effective_from"]
        )
    if action == "expire":
        return await service.expire(agreement_id, None)
    raise _SeedError(f"unknown demo step {action}")


class _SeedError(DomainError):
    slug = "demo-data"


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
    data: Mapping[str, Any]


async def _replicate(db: Database, states: Iterable[Mapping[str, Any]]) -> None:
    """Apply the organizations to the replica as the consumer would (newer versions only)."""
    async with db.sessionmaker() as session, session.begin():
        for state in states:
            if isinstance(state.get("version"), int):
                await apply_organization_event(session, _Event(state))


async def registry_organizations(
    settings: AgreementsSettings, wanted: set[str], *, wait_s: float
) -> list[dict[str, Any]]:
    """The organizations on the registry's topic (their latest states), read from the start
    until every `wanted` source key is among them or `wait_s` has passed. Only events of the
    topic's producer and catalogued types count, as for the consumer."""
    topic = settings.topic(ORGANIZATION_TOPIC)
    contract = contract_for(ORGANIZATION_TOPIC)
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
        await asyncio.wait_for(consumer.start(), timeout=max(wait_s, 1.0))
    except Exception as exc:
        log.warning("cannot read %s for the demo organizations: %r", topic, exc)
        return []
    try:
        assigned = False
        while loop.time() < deadline and not wanted <= found.keys():
            if not assigned:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(topic)
                if not partitions:
                    await asyncio.sleep(0.5)
                    continue
                assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
                consumer.assign(assignment)
                await consumer.seek_to_beginning(*assignment)
                assigned = True
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    _collect(record, contract, found)
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
    key = data.get("source_key")
    version = data.get("version")
    if not isinstance(key, str) or not isinstance(version, int):
        return
    if key not in found or version > found[key].get("version", 0):
        found[key] = data
