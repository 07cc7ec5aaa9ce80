"""A broad corpus of valid STIX 2.1 objects built with the `stix2` library, plus tricky values for
mutating them. Deterministic (fixed timestamps and ids) so failures reproduce."""

from __future__ import annotations

import json
import uuid
from typing import Any

import stix2

from shieldwall.stix.tlp import TLP, marking_definition, with_tlp

T0 = "2024-03-01T10:00:00.000Z"
T1 = "2024-03-02T11:30:00.123Z"
IDENTITY_ID = "identity--8c5d8f6b-0a4e-5b5d-9c3b-1f2e3d4c5b6a"
CAMPAIGN_ID = "campaign--2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f"
INDICATOR_ID = "indicator--3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
MALWARE_ID = "malware--4b3c2d1e-0f9a-4b8c-9d7e-6f5a4b3c2d1e"
IPV4_ID = "ipv4-addr--5c4d3e2f-1a0b-4c9d-8e8f-7a6b5c4d3e2f"
DOMAIN_ID = "domain-name--6d5e4f3a-2b1c-4d0e-9f9a-8b7c6d5e4f3a"
FILE_ID = "file--7e6f5a4b-3c2d-4e1f-8a0b-9c8d7e6f5a4b"


def _uid(kind: str, n: int) -> str:
    return f"{kind}--{uuid.uuid5(uuid.NAMESPACE_URL, f'{kind}/{n}')}"


def _plain(obj: Any) -> dict[str, Any]:
    return json.loads(obj.serialize()) if hasattr(obj, "serialize") else obj


def valid_objects() -> list[dict[str, Any]]:
    """At least one valid object of every SDO, SRO and common SCO type, and marking definitions."""
    common = {"created": T0, "modified": T1, "created_by_ref": IDENTITY_ID}
    kcp = [{"kill_chain_name": "disarm", "phase_name": "plan"}]
    ext_ref = [{"source_name": "example", "url": "https://example.org/report", "external_id": "R-1"}]
    objects: list[Any] = [
        stix2.Identity(id=IDENTITY_ID, name="Election Security Desk", identity_class="organization",
                       sectors=["government"], created=T0, modified=T0),
        stix2.AttackPattern(name="Hashtag flooding", kill_chain_phases=kcp, external_references=ext_ref,
                            **common),
        stix2.Campaign(id=CAMPAIGN_ID, name="Operation Ballot", first_seen=T0, last_seen=T1,
                       objective="suppress turnout", confidence=80, labels=["coordinated"], **common),
        stix2.CourseOfAction(name="Report accounts", description="Report to the platform", **common),
        stix2.Grouping(context="suspicious-activity", object_refs=[CAMPAIGN_ID, INDICATOR_ID], **common),
        stix2.Incident(name="Fake polling place texts", **common),
        stix2.Indicator(id=INDICATOR_ID, pattern="[domain-name:value = 'vote-online.example']",
                        pattern_type="stix", valid_from=T0, valid_until="2025-01-01T00:00:00Z",
                        indicator_types=["malicious-activity"], kill_chain_phases=kcp, **common),
        stix2.Indicator(pattern="rule x { condition: true }", pattern_type="yara", valid_from=T0, **common),
        stix2.Infrastructure(name="Bot farm", infrastructure_types=["botnet"], first_seen=T0, **common),
        stix2.IntrusionSet(name="Ballot Stuffers", aliases=["BS"], goals=["disrupt"], **common),
        stix2.Location(country="DE", region="europe", **common),
        stix2.Location(latitude=48.1, longitude=11.6, precision=100.0, **common),
        stix2.Malware(id=MALWARE_ID, name="VoteSteal", is_family=True, malware_types=["spyware"], **common),
        stix2.MalwareAnalysis(product="sandbox", result="malicious", sample_ref=FILE_ID, **common),
        stix2.Note(content="Seen on three platforms", object_refs=[CAMPAIGN_ID], authors=["analyst"],
                   **common),
        stix2.ObservedData(first_observed=T0, last_observed=T1, number_observed=3,
                           object_refs=[IPV4_ID, DOMAIN_ID], **common),
        stix2.Opinion(opinion="agree", object_refs=[CAMPAIGN_ID], **common),
        stix2.Report(name="Weekly summary", published=T1, report_types=["campaign"],
                     object_refs=[CAMPAIGN_ID, INDICATOR_ID], **common),
        stix2.ThreatActor(name="Troll Factory", threat_actor_types=["nation-state"], roles=["agent"],
                          sophistication="advanced", resource_level="government",
                          primary_motivation="ideology", **common),
        stix2.Tool(name="Scheduler", tool_types=["remote-access"], tool_version="1.2", **common),
        stix2.Vulnerability(name="CVE-2024-0001",
                            external_references=[{"source_name": "cve", "external_id": "CVE-2024-0001"}],
                            **common),
        stix2.Relationship(source_ref=INDICATOR_ID, target_ref=CAMPAIGN_ID, relationship_type="indicates",
                           start_time=T0, stop_time=T1, **common),
        stix2.Relationship(source_ref=CAMPAIGN_ID, target_ref=IDENTITY_ID, relationship_type="targets",
                           **common),
        stix2.Sighting(sighting_of_ref=INDICATOR_ID, where_sighted_refs=[IDENTITY_ID], count=5,
                       first_seen=T0, last_seen=T1, **common),
        stix2.LanguageContent(object_ref=CAMPAIGN_ID, object_modified=T1,
                              contents={"de": {"name": "Operation Stimmzettel"}}, **common),
        stix2.MarkingDefinition(definition_type="statement",
                                definition=stix2.StatementMarking(statement="Copyright Example"),
                                created=T0),
        stix2.TLP_GREEN,
        stix2.IPv4Address(id=IPV4_ID, value="198.51.100.7"),
        stix2.DomainName(id=DOMAIN_ID, value="vote-online.example"),
        stix2.URL(value="https://vote-online.example/register"),
        stix2.EmailAddress(value="press@vote-online.example", display_name="Press"),
        stix2.File(id=FILE_ID, name="leaflet.pdf", hashes={"SHA-256": "a" * 64}, size=1024),
        stix2.NetworkTraffic(src_ref=IPV4_ID, protocols=["tcp"], dst_port=443),
        stix2.Software(name="Browser", vendor="Example", version="1.0"),
        stix2.AutonomousSystem(number=64500, name="Example AS"),
        stix2.Mutex(name="Global\\vote"),
        stix2.UserAccount(user_id="1001", account_login="troll", account_type="twitter"),
        stix2.IPv6Address(value="2001:db8::1"),
        stix2.MACAddress(value="00:00:5e:00:53:01"),
        stix2.Directory(path="/tmp/leaflets", path_enc="UTF-8"),
        stix2.Artifact(mime_type="application/pdf", payload_bin="VGhpcyBpcyBhIHRlc3Q="),
        stix2.Process(pid=4242, command_line="bot --flood"),
        stix2.WindowsRegistryKey(key="HKEY_LOCAL_MACHINE\\Software\\Vote"),
        stix2.X509Certificate(serial_number="36:f7:d4:32:f4:ab:70:ea", issuer="CN=Example"),
        stix2.File(name="tool.exe", hashes={"MD5": "b" * 32},
                   extensions={"windows-pebinary-ext": {"pe_type": "exe", "number_of_sections": 4}}),
        stix2.NetworkTraffic(src_ref=IPV4_ID, protocols=["tcp", "http"],
                             extensions={"http-request-ext": {"request_method": "get", "request_value": "/"}}),
        stix2.EmailMessage(is_multipart=False, subject="Your polling place has moved", body="Go to ..."),
        stix2.Software(name="Browser", languages=["en"], cpe="cpe:2.3:a:example:browser:1.0:*:*:*:*:*:*:*"),
        stix2.ExtensionDefinition(name="Shieldwall cluster", schema="https://example.org/schema.json",
                                  version="1.0", extension_types=["property-extension"], created_by_ref=IDENTITY_ID,
                                  created=T0, modified=T0),
    ]
    plain = [_plain(o) for o in objects]
    for level in TLP:
        plain.append(marking_definition(level))
    plain.append(with_tlp(plain[2], TLP.AMBER))
    # Custom content in the x- namespace, as our extension definitions use it.
    plain.append({**plain[2], "x_shieldwall_cluster_size": 42, "x_shieldwall_platforms": ["x", "tiktok"]})
    plain.append({"type": "x-shieldwall-finding", "spec_version": "2.1", "id": _uid("x-shieldwall-finding", 1),
                  "created": T0, "modified": T0, "x_score": 0.9, "name": "custom SDO"})
    plain.append({**plain[2], "granular_markings": [{"marking_ref": TLP.RED.marking_id,
                                                     "selectors": ["objective"]}]})
    plain.append({"type": "x-acme-sensor", "spec_version": "2.1", "id": _uid("x-acme-sensor", 2), "value": "s1"})
    return plain


def reference_path_objects() -> list[dict[str, Any]]:
    """Shapes the fast path leaves to stix2-validator: deprecated embedded observables, bundles."""
    plain = valid_objects()
    return [
        {"type": "observed-data", "spec_version": "2.1", "id": _uid("observed-data", 3), "created": T0,
         "modified": T0, "first_observed": T0, "last_observed": T0, "number_observed": 1,
         "objects": {"0": {"type": "ipv4-addr", "value": "198.51.100.9"}}},
        {"type": "bundle", "id": _uid("bundle", 4), "objects": [plain[2], plain[6]]},
    ]


def indicator(pattern: str, n: int = 0, **extra: Any) -> dict[str, Any]:
    """A valid-apart-from-the-pattern indicator."""
    return {"type": "indicator", "spec_version": "2.1", "id": _uid("indicator", n), "created": T0,
            "modified": T0, "pattern": pattern, "pattern_type": "stix", "valid_from": T0, **extra}


TIMESTAMP_EDGES = [
    "2024-03-01T10:00:00.000Z", "2024-03-01T10:00:00Z", "2024-03-01T10:00:00.1Z",
    "2024-03-01T10:00:00.1234567Z", "2024-02-29T00:00:00.000Z", "2023-02-29T00:00:00.000Z",
    "2024-04-31T00:00:00.000Z", "2024-01-01T00:00:60.000Z", "2024-01-01T24:00:00.000Z",
    "0000-01-01T00:00:00.000Z", "0001-01-01T00:00:00.000Z", "0099-12-31T23:59:59.999Z",
    "9999-12-31T23:59:59.999Z", "2024-13-01T00:00:00.000Z", "2024-00-10T00:00:00.000Z",
    "2024-01-01T00:00:00.000", "2024-01-01 00:00:00.000Z", "2024-01-01", "1900-02-29T00:00:00Z",
    "2000-02-29T00:00:00Z", "2024-03-01T09:59:59.999Z", "2024-03-01T10:00:00.0000000000001Z",
]

TRICKY_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 1.0, 1.5, 100, 101, 2**70, "", "a", "ab", "abc", "x",
    *TIMESTAMP_EDGES,
    INDICATOR_ID, IDENTITY_ID, CAMPAIGN_ID, TLP.RED.marking_id, "marking-definition--1234",
    "indicator--not-a-uuid", "indicator--3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d ",
    "Indicator--3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d",
    "identity--8c5d8f6b-0a4e-6b5d-9c3b-1f2e3d4c5b6a", "identity--8c5d8f6b-0a4e-5b5d-7c3b-1f2e3d4c5b6a",
    "en", "de", "xx", "en-US", "2.1", "2.0", "indicator", "campaign", "x-custom", "action",
    [], [""], ["a"], [1], [None], [INDICATOR_ID], ["marking-definition--bad"], {}, {"a": 1},
    {"source_name": "x"}, {"SHA-256": "a" * 64}, {"MD5": "zz"},
    "http://example.com", "not a url", "user@example.com", "user@@example",
    "[ipv4-addr:value = '1.2.3.4']", "[bogus", "stix", "pcre", "property-extension",
    [{"kill_chain_name": "k", "phase_name": "p"}], [{"kill_chain_name": "k"}],
    [{"source_name": "x", "url": "https://example.org"}], [{"source_name": "x", "url": "not a url"}],
    [{"source_name": "x", "hashes": {"SHA-256": "a"}}], [{"url": "https://example.org"}],
    [{"marking_ref": TLP.RED.marking_id, "selectors": ["name"]}],
    [{"marking_ref": TLP.RED.marking_id, "selectors": ["nope.deeper"]}],
    [{"marking_ref": TLP.RED.marking_id, "selectors": ["labels.[0]"]}], [{"lang": "de", "selectors": ["name"]}],
    {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {"extension_type": "property-extension"}},
    {"x-acme-ext": {"a": 1}}, {"x-acme-ext": {}}, {"bad_ext": {"a": 1}},
]

PROPERTY_NAMES = [
    "x_shieldwall_score", "x_acme", "x_", "foo", "ab", "x", "X_upper", "x-foo", "_x", "severity", "action",
    "username", "phone_numbers", "foo_bin", "foo_hex", "foo_ref", "foo_refs", "id", "type", "created",
    "modified", "spec_version", "confidence", "lang", "labels", "revoked", "external_references",
    "object_marking_refs", "granular_markings", "extensions", "created_by_ref", "name", "description",
    "pattern", "pattern_type", "pattern_version", "valid_from", "valid_until", "first_seen", "last_seen",
    "source_ref", "target_ref", "relationship_type", "sighting_of_ref", "count", "value", "hashes",
    "kill_chain_phases", "indicator_types", "identity_class", "object_refs", "published", "a" * 251,
]
