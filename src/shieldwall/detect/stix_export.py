"""Findings as a STIX 2.1 bundle: a campaign per cluster, indicators, observed-data, relationships, TLP."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from shieldwall.detect.canonical import canonical_url
from shieldwall.stix.disarm_refs import minimal_attack_pattern, placeholder_stix_id
from shieldwall.stix.tlp import TLP, marking_definition

# Stable ids: the same finding exported twice gets the same STIX ids (uuid5 in a Shieldwall namespace).
_NAMESPACE = uuid.UUID("6f0c2a4e-9b7d-4c51-8d7e-2f5a4b9c1e30")
_IDENTITY_ID = "identity--" + str(uuid.uuid5(_NAMESPACE, "shieldwall-detect"))
MAX_OBSERVED_PER_CLUSTER = 50
# The DISARM technique each signal is evidence of. A campaign `uses` the techniques of the signals that
# fired; the relationship says it was inferred from the signal, for an analyst to confirm.
SIGNAL_TECHNIQUES: dict[str, tuple[str, str]] = {
    "co_link": ("T0049", "Flood Information Space"),
    "co_domain": ("T0049.007", "Inauthentic Sites Amplify News and Narratives"),
    "co_reshare": ("T0049.003", "Bots Amplify via Automated Forwarding and Reposting"),
    "near_text": ("T0084.001", "Use Copypasta"),
    "media": ("T0084", "Reuse Existing Content"),
    "co_hashtags": ("T0049.002", "Flood Existing Hashtag"),
    "co_hashtag": ("T0049.002", "Flood Existing Hashtag"),
    "co_object": ("T0049", "Flood Information Space"),
    "sync_timing": ("T0049.003", "Bots Amplify via Automated Forwarding and Reposting"),
}


def _is_object_id(label: str) -> bool:
    kind, sep, _ = label.partition(":")
    return bool(sep) and kind.isalpha() and kind.lower() not in ("http", "https")


def techniques_for(signals: list[str]) -> list[tuple[str, str]]:
    """(DISARM id, name) of the techniques a cluster's signals point to, each once, in id order."""
    return sorted({SIGNAL_TECHNIQUES[s] for s in signals if s in SIGNAL_TECHNIQUES})


def _id(kind: str, *parts: str) -> str:
    return f"{kind}--{uuid.uuid5(_NAMESPACE, '|'.join((kind, *parts)))}"


_SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")  # STIX 2.1 section 2.9


def _sco_id(kind: str, **contributing: str) -> str:
    """Deterministic SCO id as the spec asks: uuid5 over the canonical JSON of the contributing properties."""
    return f"{kind}--{uuid.uuid5(_SCO_NAMESPACE, json.dumps(contributing, sort_keys=True, separators=(',', ':')))}"


def _ts(value: Any) -> str:
    if value is None:
        value = datetime.now(UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def build_bundle(clusters: pa.Table, evidence: pa.Table, tlp: TLP, run_id: str) -> dict[str, Any]:
    """The STIX bundle for a run (a dict ready for JSON)."""
    marking = [tlp.marking_id]
    now = _ts(datetime.now(UTC))
    identity = {
        "type": "identity",
        "spec_version": "2.1",
        "id": _IDENTITY_ID,
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": "Shieldwall detect",
        "identity_class": "system",
        "object_marking_refs": marking,
    }
    objects: list[dict[str, Any]] = [marking_definition(tlp), identity]
    if tlp != TLP.CLEAR:
        objects.append(marking_definition(TLP.CLEAR))  # the DISARM techniques are public
    evidence_by_cluster: dict[str, list[dict[str, Any]]] = {}
    for row in evidence.to_pylist():
        evidence_by_cluster.setdefault(row["cluster_id"], []).append(row)
    for cluster in clusters.to_pylist():
        objects.extend(
            _cluster_objects(cluster, evidence_by_cluster.get(cluster["cluster_id"], []), run_id, now, marking)
        )
    unique: dict[str, dict[str, Any]] = {}
    for obj in objects:  # the same account or URL can be evidence in several clusters
        unique.setdefault(obj["id"], obj)
    return {"type": "bundle", "id": _id("bundle", run_id), "objects": list(unique.values())}


def _common(kind: str, object_id: str, now: str, marking: list[str]) -> dict[str, Any]:
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": object_id,
        "created": now,
        "modified": now,
        "created_by_ref": _IDENTITY_ID,
        "object_marking_refs": marking,
    }


def _cluster_objects(
    cluster: dict[str, Any], evidence: list[dict[str, Any]], run_id: str, now: str, marking: list[str]
) -> list[dict[str, Any]]:
    cluster_id = cluster["cluster_id"]
    first, last = _ts(cluster["first_seen"]), _ts(cluster["last_seen"])
    campaign_id = _id("campaign", run_id, cluster_id)
    campaign = {
        **_common("campaign", campaign_id, now, marking),
        "name": f"Coordinated cluster {cluster_id} ({cluster['n_accounts']} accounts)",
        "description": cluster["explanation"],
        "first_seen": first,
        "last_seen": last,
        "objective": "Coordinated inauthentic behaviour detected by co-action analysis",
        "labels": sorted(cluster["signals"]) or ["co-action"],
        "confidence": int(max(0, min(100, round(cluster["score"] * 25)))),
    }
    out: list[dict[str, Any]] = [campaign, *_techniques_used(cluster, run_id, campaign_id, now, marking)]

    def indicator(pattern: str, name: str, key: str) -> None:
        indicator_id = _id("indicator", run_id, cluster_id, key)
        out.append(
            {
                **_common("indicator", indicator_id, now, marking),
                "name": name,
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": first,
                "indicator_types": ["malicious-activity"],
            }
        )
        out.append(
            {
                **_common("relationship", _id("relationship", run_id, cluster_id, key), now, marking),
                "relationship_type": "indicates",
                "source_ref": indicator_id,
                "target_ref": campaign_id,
            }
        )

    for account in cluster["accounts"]:
        indicator(f"[user-account:account_login = '{_quote(account)}']", f"Account {account}", "account:" + account)
    urls, domains, hashes = set(), set(), set()
    for row in evidence:
        label = str(row["label"])
        if _is_object_id(label):  # an id from CooRTweet-shaped input ("url:123"), not a URL, site or hash
            continue
        if row["signal"] == "co_link":
            urls.add(label)
        elif row["signal"] == "co_domain":
            domains.add(label)
        elif row["signal"] == "media":
            hashes.add(label)
    for url in sorted(urls):
        indicator(f"[url:value = '{_quote(url)}']", f"URL {url}", "url:" + url)
        host = (canonical_url(url) or "").removeprefix("http://").split("/")[0].split("?")[0]
        if host:
            domains.add(host)
    for domain in sorted(domains):
        indicator(f"[domain-name:value = '{_quote(domain)}']", f"Domain {domain}", "domain:" + domain)
    for media_hash in sorted(hashes):
        indicator(f"[file:hashes.'PDQ' = '{media_hash}']", f"Picture (PDQ) {media_hash[:16]}...", "pdq:" + media_hash)
    for row in evidence[:MAX_OBSERVED_PER_CLUSTER]:
        out.extend(_observed(row, run_id, cluster_id, campaign_id, now, marking))
    return out


def _techniques_used(
    cluster: dict[str, Any], run_id: str, campaign_id: str, now: str, marking: list[str]
) -> list[dict[str, Any]]:
    """The DISARM attack-patterns of the cluster's signals (public, TLP:CLEAR) and `uses` relationships."""
    out: list[dict[str, Any]] = []
    for external_id, name in techniques_for(cluster["signals"]):
        signals = sorted(s for s in cluster["signals"] if SIGNAL_TECHNIQUES.get(s, ("",))[0] == external_id)
        pattern_id = placeholder_stix_id(external_id)
        out.append(
            {**minimal_attack_pattern(pattern_id, external_id, name), "object_marking_refs": [TLP.CLEAR.marking_id]}
        )
        relationship_id = _id("relationship", run_id, cluster["cluster_id"], external_id)
        out.append(
            {
                **_common("relationship", relationship_id, now, marking),
                "relationship_type": "uses",
                "source_ref": campaign_id,
                "target_ref": pattern_id,
                "description": f"Inferred from the {', '.join(signals)} signal; for an analyst to confirm.",
            }
        )
    return out


def _observed(
    row: dict[str, Any], run_id: str, cluster_id: str, campaign_id: str, now: str, marking: list[str]
) -> list[dict[str, Any]]:
    key = f"{row['signal']}:{row['item']}"
    observed_id = _id("observed-data", run_id, cluster_id, key)
    accounts = []
    refs = []
    for account in sorted(set(row["accounts"])):
        account_obj = {
            "type": "user-account",
            "spec_version": "2.1",
            "id": _sco_id("user-account", account_login=account),
            "account_login": account,
        }
        accounts.append(account_obj)
        refs.append(account_obj["id"])
    extra: list[dict[str, Any]] = []
    object_id = _is_object_id(str(row["label"]))
    if row["signal"] == "co_link" and not object_id:
        url_obj = {
            "type": "url",
            "spec_version": "2.1",
            "id": _sco_id("url", value=row["label"]),
            "value": row["label"],
        }
        extra.append(url_obj)
    elif row["signal"] == "co_domain" and not object_id:
        extra.append(
            {
                "type": "domain-name",
                "spec_version": "2.1",
                "id": _sco_id("domain-name", value=row["label"]),
                "value": row["label"],
            }
        )
    elif row["signal"] in SIGNAL_TECHNIQUES:
        note = {
            "type": "note",
            "spec_version": "2.1",
            "id": _id("note", run_id, cluster_id, key),
            "created": now,
            "modified": now,
            "created_by_ref": _IDENTITY_ID,
            "object_marking_refs": marking,
            "abstract": f"{row['signal']} evidence",
            "content": f"{row['signal']}: {row['label']} "
            f"({row['n_accounts']} accounts; posts {', '.join(row['post_ids'][:20])})",
            "object_refs": [observed_id],
        }
        extra.append(note)
    sco_refs = refs + [o["id"] for o in extra if o["type"] in ("url", "domain-name")]
    observed = {
        **_common("observed-data", observed_id, now, marking),
        "first_observed": _ts(row["first_seen"]),
        "last_observed": _ts(row["last_seen"]),
        "number_observed": max(1, int(row["n_accounts"])),
        "object_refs": sco_refs,
    }
    relation = {
        **_common("relationship", _id("relationship", run_id, cluster_id, "evidence", key), now, marking),
        "relationship_type": "related-to",
        "source_ref": observed_id,
        "target_ref": campaign_id,
        "description": f"Evidence ({row['signal']}) for the campaign",
    }
    return [
        *accounts,
        *[o for o in extra if o["type"] != "note"],
        observed,
        relation,
        *[o for o in extra if o["type"] == "note"],
    ]
