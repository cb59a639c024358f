"""Demo data: the four targets of Qatar's international-cooperation sector strategy (seed 000),
loaded by `tansiq seed` as indicators. They compute from the demo agreements and engagements
the other services seed (partnership agreements of the International Cooperation Department,
its yearly trainings of nationals, the placements of nationals in international posts).

- sign three development partnership and cooperation agreements by the end of 2022;
- build national capacity: 30 trainees a year from 2017;
- about 30 Qataris in posts at regional and international organizations by 2022;
- raise by 25 % the ministries' communication with international organizations that goes
  through the International Cooperation Department. The strategy states no 2017 value; the
  baseline is measured from the data of its first year (2019) and the target is that plus 25 %.

Each is keyed by a `demo:` source key: one that is there already is kept as users left it, so
seeding again changes nothing.
"""

from __future__ import annotations

from typing import Any

from tansiq_common.db import Database
from tansiq_common.domain import DomainError
from tansiq_common.uow import SystemActor, UnitOfWork

from tansiq_reporting.indicators.repository import IndicatorRepository
from tansiq_reporting.indicators.service import IndicatorService

SEED_ACTOR = SystemActor(sub="tansiq-seed", roles=frozenset({"coordinator"}))
COUNTRY = "QA"

DEMO_INDICATORS: list[tuple[str, dict[str, Any]]] = [
    (
        "demo:qa-seed000-partnership-agreements",
        {
            "name": {
                "ar": "توقيع ثلاث اتفاقيات شراكة تنموية وتعاون وفقاً لأولويات الدولة بنهاية 2022",
                "en": "Three development partnership and cooperation agreements signed by 2022",
            },
            "metric": "agreements_signed",
            "filters": {"kinds": ["partnership_agreement", "cooperation_agreement"]},
            "window": "cumulative",
            "baseline": {"year": 2017, "value": 0},
            "target": {"value": 3, "deadline": "2022-12-31"},
            "direction": "increase",
        },
    ),
    (
        "demo:qa-seed000-nationals-trained",
        {
            "name": {
                "ar": "بناء القدرات الوطنية في مجال التعاون الدولي: 30 متدرباً قطرياً سنوياً",
                "en": "National capacity in international cooperation: 30 trainees a year",
            },
            "metric": "nationals_trained",
            "filters": {},
            "window": "annual",
            "baseline": {"year": 2016, "value": 0},
            "target": {"value": 30, "deadline": "2022-12-31"},
            "direction": "increase",
        },
    ),
    (
        "demo:qa-seed000-placements",
        {
            "name": {
                "ar": "زيادة عدد القطريين العاملين في المنظمات الإقليمية والدولية إلى حوالي 30",
                "en": "About 30 Qataris in posts at regional and international organizations",
            },
            "metric": "placements",
            "filters": {},
            "window": "cumulative",
            "baseline": {"year": 2018, "value": 0},
            "target": {"value": 30, "deadline": "2022-12-31"},
            "direction": "increase",
        },
    ),
    (
        "demo:qa-seed000-coordinated-share",
        {
            "name": {
                "ar": (
                    "رفع مستوى تواصل الوزارات مع المنظمات الدولية عبر إدارة التعاون الدولي "
                    "بنسبة 25%"
                ),
                "en": (
                    "Ministries' communication with international organizations through the "
                    "International Cooperation Department up by 25 %"
                ),
            },
            "metric": "coordinated_engagement_share",
            "filters": {},
            "window": "annual",
            "baseline": {"year": 2019, "value": None},
            "target": {"relative_change": 0.25, "deadline": "2022-12-31"},
            "direction": "increase",
        },
    ),
]


async def seed(db: Database, settings: Any = None) -> dict[str, Any]:
    """Define the demo indicators that are not there yet; a report of what was done."""
    created = kept = failed = 0
    errors: list[dict[str, Any]] = []
    ids: dict[str, str] = {}
    for key, fields in DEMO_INDICATORS:
        uow = UnitOfWork(db.sessionmaker, SEED_ACTOR)
        async with uow:
            existing = await IndicatorRepository(uow).by_source_key(key)
        if existing is not None:
            kept += 1
            ids[key] = existing.id
            continue
        try:
            indicator = await IndicatorService(UnitOfWork(db.sessionmaker, SEED_ACTOR)).define(
                COUNTRY, fields, source_key=key
            )
        except DomainError as exc:
            failed += 1
            errors.append({"key": key, "error": exc.message, "errors": exc.errors})
            continue
        created += 1
        ids[key] = indicator.id
    return {"created": created, "kept": kept, "failed": failed, "errors": errors, "ids": ids}
