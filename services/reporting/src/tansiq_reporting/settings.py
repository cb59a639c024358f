from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from tansiq_common.settings import ServiceSettings

from tansiq_reporting.findings.rules import RuleParameters


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="REPORTING_", extra="ignore", populate_by_name=True
    )

    database_url: str = "postgresql+asyncpg://tansiq:tansiq@127.0.0.1:55432/reporting"
    port: int = 8004

    # Coordination-consistency rules (docs/architecture.md, Reporting). Days unless named
    # otherwise; REPORTING_C2_NOTICE_DAYS=10 etc.
    c2_notice_days: int = Field(7, ge=0, le=3650)
    c3_window_days: int = Field(30, ge=0, le=3650)
    c4_dormant_days: int = Field(180, ge=1, le=3650)
    c6_expiry_days: int = Field(90, ge=0, le=3650)
    # The calendar a due date is counted in: a report due on the 24th is late from the 25th there.
    timezone: str = "Asia/Qatar"
    # The evaluator runs when an event marks records due, and at least this often for the
    # records whose rules time alone may have changed (C2, C4, C5, C6).
    scheduled_pass_interval_s: float = Field(60.0, gt=0)
    # Records one transaction of the evaluator evaluates.
    scheduled_pass_batch: int = Field(500, ge=1, le=100_000)
    # Months of the scorecards' trend.
    trend_months: int = Field(12, ge=1, le=240)
    # An indicator whose projection reaches at least this share of the remaining gap is
    # "at risk" rather than "off track".
    at_risk_share: float = Field(0.9, gt=0, lt=1)
    # How long /v1/freshness trusts the consumer lag it read from Kafka.
    freshness_cache_s: float = Field(5.0, ge=0)

    def rule_parameters(self) -> RuleParameters:
        return RuleParameters(
            c2_notice_days=self.c2_notice_days,
            c3_window_days=self.c3_window_days,
            c4_dormant_days=self.c4_dormant_days,
            c6_expiry_days=self.c6_expiry_days,
            timezone=self.timezone,
        )


@lru_cache
def get_settings() -> ReportingSettings:
    return ReportingSettings()
