"""Eligibility rules that depend on live facts (capacity, hours, exclusions), pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from dispatch.timelimits.hours import in_working_hours
from models import Priority, ProviderStatus


@dataclass(frozen=True, slots=True)
class LiveFacts:
    provider_id: int
    status: ProviderStatus
    open_count: int
    capacity: int
    working_hours: dict[str, list[list[str]]]


@dataclass(frozen=True, slots=True)
class Verdict:
    eligible: bool
    out_of_hours: bool = False
    reason: str = ""


def judge(facts: LiveFacts, *, excluded: bool, priority: Priority, at: datetime, tz: ZoneInfo) -> Verdict:
    if facts.status != ProviderStatus.ACTIVE:
        return Verdict(False, reason="已暂停")
    if excluded:
        return Verdict(False, reason="已退单/超时，不再派给此服务方")
    if facts.open_count >= facts.capacity:
        return Verdict(False, reason=f"满负荷 {facts.open_count}/{facts.capacity}")
    if not in_working_hours(facts.working_hours, at, tz):
        if priority == Priority.URGENT:
            return Verdict(True, out_of_hours=True)
        return Verdict(False, reason="非工作时间")
    return Verdict(True)
