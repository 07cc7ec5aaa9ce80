"""Disclosure checks per jurisdiction, driven by the rule files in `shieldwall/ads/rules/*.toml`.

A rule file names the countries it covers, an optional `[when]` condition (France's three months
before a general election, above EUR 100) and a list of checks, each a `require` kind applied to a
field of the ad. Adding a jurisdiction is adding a file; the kinds below are the only code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

KINDS = ("present", "all_present", "any_present", "range_ordered", "period_ordered", "br_tax_id")


@dataclass(frozen=True)
class Check:
    id: str
    item: str
    require: str
    message: str
    fields: tuple[str, ...]
    kind: str = "missing"


@dataclass(frozen=True)
class RuleSet:
    jurisdiction: str
    title: str
    legal_basis: str
    countries: frozenset[str]
    checks: tuple[Check, ...]
    when: dict[str, Any] = field(default_factory=dict)

    def covers(self, country: str | None) -> bool:
        return "*" in self.countries or (country is not None and country in self.countries)


@dataclass(frozen=True)
class ElectionDate:
    key: str
    country: str
    kind: str  # the registry's level: national, presidential, legislative, european, municipal...
    date: date | datetime


def parse_rule_file(text: str, name: str) -> RuleSet:
    data = tomllib.loads(text)
    checks = []
    for raw in data.get("check", []):
        if raw.get("require") not in KINDS:
            raise ValueError(f"{name}: check {raw.get('id')!r}: unknown require {raw.get('require')!r}")
        fields = tuple(raw.get("fields") or ([raw["field"]] if "field" in raw else []))
        checks.append(Check(raw["id"], raw["item"], raw["require"], raw["message"], fields, raw.get("kind", "missing")))
    return RuleSet(
        jurisdiction=data["jurisdiction"],
        title=data["title"],
        legal_basis=data["legal_basis"],
        countries=frozenset(data["countries"]),
        checks=tuple(checks),
        when=data.get("when", {}),
    )


@cache
def rule_sets() -> tuple[RuleSet, ...]:
    folder = resources.files("shieldwall.ads") / "rules"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)
    return tuple(parse_rule_file(f.read_text(encoding="utf-8"), f.name) for f in files)


def _valid_cpf(digits: str) -> bool:
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    for n in (9, 10):
        total = sum(int(digits[i]) * (n + 1 - i) for i in range(n))
        if (total * 10 % 11) % 10 != int(digits[n]):
            return False
    return True


def _valid_cnpj(digits: str) -> bool:
    if len(digits) != 14 or len(set(digits)) == 1:
        return False
    for n, weights in ((12, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]), (13, [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])):
        remainder = sum(int(d) * w for d, w in zip(digits[:n], weights, strict=True)) % 11
        if (0 if remainder < 2 else 11 - remainder) != int(digits[n]):
            return False
    return True


@cache
def valid_br_tax_id(value: str | None) -> bool:
    digits = "".join(ch for ch in (value or "") if ch.isdigit())
    return _valid_cpf(digits) or _valid_cnpj(digits)


def _view(doc: dict[str, Any]) -> dict[str, Any]:
    """The fields rules may name, derived from a normalised document."""
    ids = doc.get("payer_ids") or {}
    return {
        **doc,
        "payer_tax_id": ids.get("cnpj") or ids.get("cpf") or ids.get("tax_id"),
        "sponsor_name": doc.get("funding_entity"),
    }


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "")) if value else None


def _day(value: date | datetime) -> datetime:
    """An election's day as a naive datetime at midnight (the registry keeps dates; older callers datetimes)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime(value.year, value.month, value.day)


def _condition_holds(rules: RuleSet, view: dict[str, Any], elections: list[ElectionDate]) -> bool:
    when = rules.when
    if not when:
        return True
    spend_above = when.get("spend_above")
    spend = view.get("spend")
    # Unknown spend, or an upper bound above the threshold, may be above it: the rule applies.
    if spend_above is not None and spend and spend[1] is not None and spend[1] <= spend_above:
        return False
    days = when.get("within_days_before_election")
    if days is not None:
        start, stop = _parse(view.get("delivery_start")), _parse(view.get("delivery_stop"))
        if start is None:
            return False
        stop = stop or start
        kinds = set(when.get("election_kinds", []))
        for election in elections:
            if election.country not in rules.countries or (kinds and election.kind not in kinds):
                continue
            if view.get("election_key") and view["election_key"] != election.key:
                continue
            day = _day(election.date)
            window_start = day - timedelta(days=days)
            if start <= day and stop >= window_start:
                return True
        return False
    return True


def _failed(check: Check, view: dict[str, Any]) -> bool:
    values = [view.get(f) for f in check.fields]
    if check.require == "present" or check.require == "all_present":
        return any(_empty(v) for v in values)
    if check.require == "any_present":
        return all(_empty(v) for v in values)
    if check.require == "range_ordered":
        pair: Any = values[0]
        return bool(pair) and pair[0] is not None and pair[1] is not None and pair[0] > pair[1]
    if check.require == "period_ordered":
        start, stop = view.get("delivery_start"), view.get("delivery_stop")
        return bool(start and stop) and _parse(stop) < _parse(start)  # type: ignore[operator]
    if check.require == "br_tax_id":
        return not valid_br_tax_id(values[0])
    raise AssertionError(check.require)


def evaluate(doc: dict[str, Any], elections: list[ElectionDate] | None = None) -> tuple[str, list[dict[str, str]]]:
    """(compliance status, issues). Status: non_compliant if any issue, compliant if a jurisdiction's
    rules covered the ad, unknown when no jurisdiction we have rules for covers its country."""
    view = _view(doc)
    issues: list[dict[str, str]] = []
    covered = False
    for rules in rule_sets():
        if not rules.covers(view.get("country")):
            continue
        if "*" not in rules.countries:
            covered = True
        if not _condition_holds(rules, view, elections or []):
            continue
        for check in rules.checks:
            if _failed(check, view):
                issues.append(
                    {
                        "jurisdiction": rules.jurisdiction,
                        "check": check.id,
                        "item": check.item,
                        "kind": check.kind,
                        "message": check.message,
                        "legal_basis": rules.legal_basis,
                    }
                )
    status = "non_compliant" if issues else ("compliant" if covered else "unknown")
    return status, issues
