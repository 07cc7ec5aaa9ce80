"""Differential tests: the fast path must give stix2-validator's verdict on every object.

validate_object answers from fastvalidate.accepts when that says "valid" and from the reference
otherwise, so its result must equal reference_validate_object's exactly (the same None or the same
message). The parts are also checked one by one against their reference counterparts, with
generated inputs aimed at their edges (timestamps, patterns, schema keywords).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from dateutil import parser as dateutil_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stix2patterns.inspector import INDEX_STAR
from stix2patterns.v21.pattern import Pattern
from stix2validator import ValidationOptions
from stix2validator import validator as reference
from stix2validator.v21 import musts

from shieldwall.stix import fastvalidate
from shieldwall.stix.validate import Invalid, precheck, reference_validate_object, validate_object, validate_objects
from tests.stix.corpus import (
    INDICATOR_ID,
    PROPERTY_NAMES,
    TIMESTAMP_EDGES,
    TRICKY_VALUES,
    indicator,
    reference_path_objects,
    valid_objects,
)

VALID = valid_objects()
SETTINGS = settings(max_examples=250, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def reference_schema_valid(obj: dict[str, Any]) -> bool | None:
    """The reference's JSON-schema verdict alone (None when the reference raises)."""
    options = ValidationOptions(version="2.1", strict=False, disabled=["marking-definition-type"])
    try:
        return not any(True for errors, _prefix in reference._schema_validate(obj, options) for _ in errors)
    except Exception:
        return None


def assert_same_verdict(obj: Any) -> bool:
    fast = validate_object(obj)
    slow = reference_validate_object(obj)
    assert fast == slow, f"fast={fast!r} reference={slow!r} for {json.dumps(obj, default=str)[:2000]}"
    eligible = isinstance(obj, dict) and isinstance(obj.get("type"), str) and obj.get("type") != "bundle"
    # The reference's bare schema check would spend minutes on a name precheck refuses (name_patterns).
    eligible = eligible and precheck(obj) is None
    if eligible and not (obj["type"] == "observed-data" and "objects" in obj):
        schema_verdict = reference_schema_valid(obj)
        if schema_verdict is not None:
            # Stronger than soundness: the compiled schemas agree with jsonschema both ways.
            assert fastvalidate.schema_accepts(obj) == schema_verdict, json.dumps(obj, default=str)[:2000]
    return fast is None


# ------------------------------------------------------------------------------------------------
# Whole objects
# ------------------------------------------------------------------------------------------------


def test_every_valid_corpus_object_is_accepted_by_the_fast_path() -> None:
    types = set()
    for obj in VALID:
        assert reference_validate_object(obj) is None, obj
        assert fastvalidate.accepts(obj), obj  # no silent fall-back to the slow path
        types.add(obj["type"])
    assert {"indicator", "campaign", "relationship", "identity", "observed-data", "sighting",
            "marking-definition", "malware-analysis", "language-content", "x-shieldwall-finding"} <= types


def test_bundles_and_embedded_observables_take_the_reference_path() -> None:
    for obj in reference_path_objects():
        assert not fastvalidate.accepts(obj)
        assert_same_verdict(obj)
    bundle = reference_path_objects()[1]
    assert validate_object(bundle) is None
    assert validate_object({**bundle, "objects": [{**VALID[2], "confidence": 101}]}) is not None


def test_the_shared_disarm_bundle_gets_the_same_verdicts(shared_data: Any) -> None:
    bundle = json.loads((shared_data / "disarm" / "DISARM.json").read_text())
    objects = bundle["objects"][::7]  # a spread of tactics, techniques and relationships
    accepted = [assert_same_verdict(obj) for obj in objects]
    assert all(accepted) and len(accepted) > 50


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**65), 2**65) | st.floats(allow_nan=False)
    | st.text(max_size=8) | st.sampled_from(TRICKY_VALUES),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(PROPERTY_NAMES) | st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON value, depth first."""
    found: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((node, key))
            found.extend(_slots(value))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((node, index))
            found.extend(_slots(value))
    return found


@st.composite
def mutated_objects(draw: st.DrawFn) -> dict[str, Any]:
    obj = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(obj)
        action = draw(st.sampled_from(["delete", "replace", "tricky", "add", "custom", "custom", "retime"]))
        if action == "custom":  # custom properties: valid unless the value breaks properties.json
            custom_names = st.from_regex(r"\Ax_[a-z][a-z0-9_]{1,8}(_bin|_hex|_ref|_refs)?\Z")
            key = draw(custom_names | st.sampled_from(PROPERTY_NAMES))
            obj[key] = copy.deepcopy(draw(json_values))
            continue
        if action == "retime":
            stamps = [k for k, v in obj.items() if isinstance(v, str) and k != "id" and v[:2] in ("19", "20")]
            if stamps:
                obj[draw(st.sampled_from(stamps))] = draw(st.sampled_from(TIMESTAMP_EDGES))
            continue
        if action == "add":
            containers = [obj] + [c for c, k in slots if isinstance(c, dict)]
            target = draw(st.sampled_from(containers))
            key = draw(st.sampled_from(PROPERTY_NAMES) | st.text(max_size=6))
            target[key] = copy.deepcopy(draw(st.sampled_from(TRICKY_VALUES) | json_values))
            continue
        container, key = draw(st.sampled_from(slots))
        if action == "delete":
            del container[key]
        elif action == "tricky":
            container[key] = copy.deepcopy(draw(st.sampled_from(TRICKY_VALUES)))
        else:
            container[key] = copy.deepcopy(draw(json_values))
    return obj


@SETTINGS
@given(mutated_objects())
def test_mutated_objects_get_the_reference_verdict(obj: dict[str, Any]) -> None:
    assert_same_verdict(obj)


@SETTINGS
@given(st.sampled_from(VALID), st.sampled_from(PROPERTY_NAMES) | st.from_regex(r"\Ax_[a-z_]{0,8}\Z"),
       st.sampled_from(TRICKY_VALUES))
def test_custom_and_known_properties_get_the_reference_verdict(base: dict[str, Any], key: str, value: Any) -> None:
    assert_same_verdict({**base, key: value})


@settings(max_examples=60, deadline=None, database=None)
@given(st.sampled_from(["created", "modified", "valid_from", "valid_until", "first_seen", "last_seen",
                        "published", "start_time", "stop_time"]),
       st.sampled_from(TIMESTAMP_EDGES), st.sampled_from(VALID))
def test_timestamp_edges_get_the_reference_verdict(prop: str, stamp: str, base: dict[str, Any]) -> None:
    obj = {**base, prop: stamp}
    if prop == "created" and "modified" in obj:
        obj["modified"] = stamp  # also reach the timestamp check itself, not only the ordering
    assert_same_verdict(obj)


def test_marking_refs_and_ids() -> None:
    base = VALID[2]
    for refs in (["marking-definition--1234"], [], ["identity--8c5d8f6b-0a4e-5b5d-9c3b-1f2e3d4c5b6a"],
                 "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", [base["id"]]):
        assert_same_verdict({**base, "object_marking_refs": refs})
    statement = next(o for o in VALID if o["type"] == "marking-definition")
    marking = {**statement, "object_marking_refs": [statement["id"]]}  # circular: a MUST error
    assert validate_object(marking) is not None
    assert_same_verdict(marking)
    for bad_id in ("campaign--123", "indicator--2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f", "campaign", 42):
        assert_same_verdict({**base, "id": bad_id})


def test_stix_like_objects_nested_in_lists_get_the_checks_too() -> None:
    campaign = VALID[2]
    # stix2-validator runs its python checks on every {id, type} dict inside a list property; a
    # warning about a nested indicator whose id is None makes its error formatting raise.
    nested = {**campaign, "x_items": [{"type": "indicator", "id": None}]}
    assert validate_object(nested) is not None
    assert_same_verdict(nested)
    fine = {**campaign, "x_items": [{"type": "indicator", "id": INDICATOR_ID, "name": "n", "description": "d"}]}
    assert_same_verdict(fine)
    bad_pattern = {**campaign, "x_items": [indicator("[ipv4-addr:value = '1.2.3.4'")]}
    assert validate_object(bad_pattern) is not None
    assert_same_verdict(bad_pattern)


def test_errors_name_the_object_and_give_a_reason() -> None:
    good = VALID[2]
    bad = {**good, "confidence": 101}
    valid, invalid = validate_objects([good, bad, "junk"])
    assert valid == [good]
    assert invalid[0] == Invalid(bad["id"], invalid[0].reason)
    assert bad["id"] in invalid[0].reason and "101" in invalid[0].reason
    assert invalid[1].object_id == "objects[2]" and invalid[1].reason == "not a JSON object"


# ------------------------------------------------------------------------------------------------
# Patterns
# ------------------------------------------------------------------------------------------------

# Each slot draws from the usual values most of the time and from near misses sometimes, so that
# both recognised and rejected patterns are common.
OBJECT_TYPES = (["ipv4-addr", "domain-name", "file", "url", "email-message", "network-traffic", "process",
                 "x-acme-thing", "windows-registry-key", "user-account"],
                ["a", "ab", "Abc", "x_y", "true", "AND", "bad-", "-bad", "x--y", "1ab", "ipv4-addr "])
PROPERTIES = (["value", "name", "hashes", "size", "src_ref", "extensions", "x_custom", "'quoted key'",
               "dst_port", "protocols", "subject", "key"],
              ["ab", "Bad", "abc-def", "true", "AND", "t", "h", "'SHA-256'", "'a b'", "_x", "x"])
STEPS = ([".value", ".'SHA-256'", ".'MD5'", ".MD5", ".SHA1", "[*]", "[0]", ".name", ".'windows-pebinary-ext'",
          ".sections", ". name", "[ * ]", "[12]"],
         ["[01]", "[-1]", "[+1]", ".'a\\'b'", ".1", ".true", ".AND", "[x]", ".'ssdeep'", ".'SHA-512'", "."])
OPERATORS = (["=", "==", "!=", "<>", "<", ">", "<=", ">=", "LIKE", "MATCHES", "NOT =", "NOT LIKE",
              "ISSUBSET", "ISSUPERSET"],
             ["IN", "NOT", "= =", "not =", "like", "=<", "EXISTS", "!"])
LITERALS = (["'abc'", "'1.2.3.4'", "'a\\'b'", "'a\\\\b'", "42", "+42", "-1", "0", "true", "false",
             "'" + "a" * 32 + "'", "'" + "b" * 40 + "'", "'" + "c" * 64 + "'", "''", "'line\nbreak'",
             "'ünïcode'", "'x AND y'", "']'"],
            ["'a\\b'", "01", "1.5", ".5", "t'2020-01-01T00:00:00Z'", "h'ab'", "b'YQ=='", "'zz'",
             "('a', 'b')", "'x' AND", "'unterminated", "1x", "-", "'" + "0" * 63 + "'"])
SPACES = ([" ", "", "  ", "\t", "\n", "\r\n"], ["\u00a0", " /* c */ ", "\x0b", " // c\n"])
JOINERS = (["AND", "OR", "FOLLOWEDBY"], ["and", "AND NOT", "", "OR OR"])
QUALIFIERS = ([""], [" WITHIN 5 SECONDS", " REPEATS 2 TIMES",
                     " START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'",
                     " WITHIN 5 SECONDS WITHIN 6 SECONDS", " WITHIN 5"])


def usually(choices: tuple[list[str], list[str]]) -> st.SearchStrategy[str]:
    good, near_misses = choices
    return st.integers(0, 11).flatmap(
        lambda n: st.sampled_from(near_misses) if n == 0 else st.sampled_from(good))


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    path = draw(usually(OBJECT_TYPES)) + ":" + draw(usually(PROPERTIES))
    path += "".join(draw(st.lists(usually(STEPS), max_size=2)))
    text = f"{path}{draw(usually(SPACES))}{draw(usually(OPERATORS))}{draw(usually(SPACES))}"
    text += draw(usually(LITERALS))
    if draw(st.integers(0, 9)) == 0:
        text = f"({text})"
    return text


@st.composite
def patterns(draw: st.DrawFn) -> str:
    observations = []
    for _ in range(draw(st.integers(1, 3))):
        parts = draw(st.lists(comparisons(), min_size=1, max_size=3))
        joiner = draw(usually((["AND", "OR"], ["FOLLOWEDBY", "and", ","])))
        body = f" {joiner} ".join(parts)
        obs = f"[{draw(usually(SPACES))}{body}]" + draw(usually(QUALIFIERS))
        if draw(st.integers(0, 6)) == 0:
            obs = f"({obs})"
        observations.append(obs)
    text = f" {draw(usually(JOINERS))} ".join(observations)
    if draw(st.integers(0, 7)) == 0:  # a random character-level slip
        position = draw(st.integers(0, len(text)))
        slip = draw(st.sampled_from(["", "[", "]", "'", " ", "(", ")", "\\", ":", "."]))
        text = text[:position] + slip + text[position + draw(st.integers(0, 1)):]
    return text


def _reference_patterns_clean(pattern: str) -> bool:
    options = ValidationOptions(version="2.1", strict=False, disabled=["marking-definition-type"])
    options.set_check_codes("2.1")
    try:
        return not list(musts.patterns(indicator(pattern), options))
    except Exception:
        return False


def _normalised(comparisons: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {t: [([("*" if step is INDEX_STAR else step) for step in path], op, value)
                for path, op, value in entries] for t, entries in comparisons.items()}


recognised_count = {"yes": 0, "all": 0}


@settings(max_examples=400, deadline=None, database=None)
@given(patterns())
def test_pattern_recogniser_only_accepts_what_the_antlr_parser_accepts(pattern: str) -> None:
    recognised = fastvalidate.pattern_recognised_clean(pattern)
    recognised_count["all"] += 1
    if recognised:
        recognised_count["yes"] += 1
        assert _reference_patterns_clean(pattern), pattern
        ours = fastvalidate._PatternRecogniser(pattern).pattern()
        assert _normalised(ours) == _normalised(Pattern(pattern).inspect().comparisons), pattern


def test_the_recogniser_covers_the_common_shapes() -> None:
    common = [
        "[ipv4-addr:value = '198.51.100.7']",
        "[domain-name:value = 'vote-online.example'] OR [url:value = 'https://vote-online.example/x']",
        "[file:hashes.'SHA-256' = '" + "a" * 64 + "' AND file:name = 'leaflet.pdf']",
        "[file:hashes.MD5 = '" + "b" * 32 + "'] FOLLOWEDBY [process:name != 'x.exe']",
        "([email-message:subject LIKE 'Your ballot%'] AND [email-message:from_ref.value MATCHES '^bad'])",
        "[network-traffic:dst_port = 443 AND network-traffic:protocols[*] = 'tcp']",
        "[x-shieldwall-account:x_handle = 'troll_42']",
    ]
    for pattern in common:
        assert fastvalidate.pattern_recognised_clean(pattern), pattern
        assert _reference_patterns_clean(pattern), pattern
    for wrong in ["[file:hashes.MD5 = 'zz']", "[ipv4-addr:value = '1.2.3.4'", "ipv4-addr:value = '1'",
                  "[ipv4-addr:Value = 'x']", "[ab:value = 'x']", "[ipv4-addr:value = 'a\\b']"]:
        assert not fastvalidate.pattern_recognised_clean(wrong), wrong
        assert validate_object(indicator(wrong)) is not None
        assert_same_verdict(indicator(wrong))


@settings(max_examples=120, deadline=None, database=None)
@given(patterns(), st.sampled_from([{}, {"pattern_version": "2.1"}, {"pattern_version": "2.0"},
                                    {"pattern_type": "pcre"}, {"spec_version": "2.1"}]))
def test_indicators_with_generated_patterns_get_the_reference_verdict(pattern: str, extra: dict[str, Any]) -> None:
    assert_same_verdict(indicator(pattern, **extra))


def test_generated_patterns_were_mostly_recognised() -> None:
    # Guards against a recogniser that defers everything (correct but slow): the generator
    # makes many near misses, still a fair share must be recognised.
    shapes = [f"[ipv4-addr:value = '10.0.{i}.1'] OR [domain-name:value = 'd{i}.example']" for i in range(50)]
    assert all(fastvalidate.pattern_recognised_clean(p) for p in shapes)


# ------------------------------------------------------------------------------------------------
# Timestamp primitives
# ------------------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None, database=None)
@given(st.from_regex(musts.TIMESTAMP_FORMAT_RE, fullmatch=True))
def test_calendar_check_never_accepts_what_dateutil_rejects(stamp: str) -> None:
    if fastvalidate._calendar_valid(stamp):
        dateutil_parser.parse(stamp)


@settings(max_examples=400, deadline=None, database=None)
@given(st.from_regex(musts.TIMESTAMP_FORMAT_RE, fullmatch=True) | st.sampled_from(TIMESTAMP_EDGES),
       st.from_regex(musts.TIMESTAMP_FORMAT_RE, fullmatch=True) | st.sampled_from(TIMESTAMP_EDGES),
       st.sampled_from(["ge", "gt"]))
def test_timestamp_ordering_matches_the_reference(first: str, second: str, op: str) -> None:
    assert fastvalidate._compare(first, op, second) == musts.compare(first, op, second)
