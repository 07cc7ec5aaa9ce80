"""Names stix2-validator's schema regexes would take minutes to refuse: refused at once, with the same verdict.

A failure here would hang rather than fail (the regex holds the GIL, so no timeout fires), which is why the
hostile objects are validated in a child process with a deadline.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shieldwall.stix.name_patterns import EXTENSION_NAME, TYPE_NAME, linear
from tests.stix.corpus import indicator as with_pattern


def indicator() -> dict[str, Any]:
    return with_pattern("[url:value = 'http://x.example/']")


# Short strings over the characters that matter: the original regexes are still quick at this length.
names = st.text(alphabet="ab09-!x_\nE", max_size=14) | st.sampled_from(
    ["indicator", "x-custom-type", "ntfs-ext", "a-ext", "-ext", "a--b", "abc-", "abc-\n", "a\n"]
)


@settings(max_examples=3000, deadline=None, database=None)
@given(names)
def test_the_linear_patterns_match_exactly_what_the_schema_patterns_match(name: str) -> None:
    for original in (TYPE_NAME, EXTENSION_NAME):
        assert bool(re.search(linear(original), name)) == bool(re.search(original, name)), (original, name)


HOSTILE = "a" * 40 + "!"  # about 2^40 steps for the schema's own regex


def hostile_objects() -> dict[str, Any]:
    observed = {
        "type": "observed-data", "spec_version": "2.1", "id": "observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z", "number_observed": 1,
        "objects": {"0": {"type": "url", "value": "http://x.example/"}},
    }
    nested_type = json.loads(json.dumps(observed))
    nested_type["objects"]["0"]["type"] = HOSTILE
    nested_extension = json.loads(json.dumps(observed))
    nested_extension["objects"]["0"]["extensions"] = {HOSTILE: {"a": 1}}
    bundle = {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
              "objects": [{**indicator(), "type": HOSTILE}]}
    return {
        "type": {**indicator(), "type": HOSTILE},
        "type, ending in a newline": {**indicator(), "type": "a" * 40 + "\n\n"},
        "extension": {**indicator(), "extensions": {HOSTILE: {"a": 1}}},
        "extension ending like -ext": {**indicator(), "extensions": {"a" * 40 + "-ex": {"a": 1}}},
        "observed-data object type": nested_type,
        "observed-data object extension": nested_extension,
        "bundle member type": bundle,
    }


CHILD = """
import json, sys, time
from shieldwall.stix.validate import reference_validate_object, validate_object, validate_objects
cases = json.load(sys.stdin)
out = {}
for name, obj in cases.items():
    started = time.monotonic()
    out[name] = [validate_object(obj), reference_validate_object(obj), validate_objects([obj])[1][0].reason]
    out[name].append(time.monotonic() - started)
print(json.dumps(out))
"""


def test_hostile_names_are_refused_at_once_by_every_validation_path() -> None:
    cases = hostile_objects()
    done = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(cases), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    for name, (fast, reference, batch, seconds) in results.items():
        assert fast is not None and fast == reference == batch, (name, fast, reference, batch)
        assert seconds < 5, (name, seconds)
    assert results["type"][0].startswith("type: 'aaaa") and "not a STIX type name" in results["type"][0]
    assert results["extension"][0].startswith("extensions: ") and "-ext" in results["extension"][0]
    assert results["observed-data object type"][0].startswith("objects['0'].type: ")
    assert results["observed-data object extension"][0].startswith("objects['0'].extensions: ")
    assert results["bundle member type"][0].startswith("objects[0].type: ")


def test_names_the_schema_accepts_still_pass() -> None:
    from shieldwall.stix.validate import validate_object

    long_custom = {**indicator(), "extensions": {"a" * 40 + "-ext": {"abc": 1}}}
    assert validate_object(long_custom) is None
    assert validate_object({**indicator(), "x_note": {"type": HOSTILE}}) is None  # not a place the schema checks
