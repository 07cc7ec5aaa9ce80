"""A fast *accepting* front end to the OASIS stix2-validator (STIX 2.1, the options in validate.py).

`accepts(obj)` answers True only when stix2-validator would report `obj` valid; it answers False
when the object is invalid *or* when the fast path is not sure. The caller then runs the reference
validator, which gives the verdict and the error text. So the fast path can only ever be too
cautious (slower), never wrong, provided each of its three parts accepts no more than the part it
replaces:

1. JSON schemas: stix2-validator's own bundled schema files, compiled once into plain Python
   predicates (the keywords those files use, with jsonschema's Draft 2020-12 semantics; the format
   checks call the very same FormatChecker). The reference re-reads the file and re-crawls the
   $ref registry for every object, which was about half of its time.
2. The MUST checks: the validator's own functions, called directly, except three replaced by
   accept-or-defer versions: `timestamp` (dateutil's parser only confirms what a calendar check
   already proves), `timestamp_compare` (string order equals time order for same-length
   timestamps) and `patterns` (a recogniser for the common STIX pattern shapes; anything it does
   not fully understand goes to the real ANTLR parser; clean patterns are cached).
3. The SHOULD checks only make warnings under strict=False, but an exception raised by one makes
   the reference reject the object, so they still run (the validator's own functions).

Checks that start with a guard on the object type are skipped for other types, as are the
cyber-observable checks for non-observables (they would return at once). Anything unusual
(bundles, deprecated observed-data `objects`, non-string types, a schema keyword the compiler does
not know, any exception) takes the reference path. The replaced and pruned checks were read in
stix2-validator 3.3; with another version installed the fast path switches itself off.
"""

from __future__ import annotations

import calendar
import os
import re
from collections.abc import Callable, Iterable, Mapping
from types import GeneratorType
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema._utils import equal as json_equal
from stix2patterns.inspector import INDEX_STAR
from stix2patterns.v21 import object_validator as pattern_object_validator
from stix2validator import ValidationOptions
from stix2validator import validator as reference
from stix2validator.errors import pretty_error
from stix2validator.util import has_cyber_observable_data
from stix2validator.v21 import enums, musts, shoulds
from stix2validator.version import __version__ as reference_version

from shieldwall.stix.name_patterns import linear

Predicate = Callable[[Any], bool]

# The copied and pruned checks below mirror this release line; any other: reference only.
ENABLED = reference_version.startswith("3.3.")

# Built the same way as validate.py's options; set_check_codes is what validate_instance does first.
OPTIONS = ValidationOptions(version="2.1", strict=False, disabled=["marking-definition-type"])
OPTIONS.set_check_codes("2.1")

# The directory stix2-validator itself resolves built-in schemas from (see _get_error_generator).
SCHEMA_DIR = os.path.abspath(os.path.dirname(reference.__file__) + "/schemas-2.1/schemas/")

# Importing stix2validator.validator registered its stricter 'email' check on this shared checker.
_FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER
_TYPE_CHECKER = Draft202012Validator.TYPE_CHECKER


class UnsupportedSchema(Exception):
    """The schema uses something the compiler does not reproduce; objects needing it go slow."""


# --------------------------------------------------------------------------------------------
# 1. JSON schema compilation
# --------------------------------------------------------------------------------------------

# Keywords with no assertion effect in Draft 2020-12 (annotations and containers).
_IGNORED_KEYWORDS = frozenset(
    {"$id", "$schema", "title", "description", "definitions", "$defs", "$comment", "examples", "default"}
)


def _is_string(x: Any) -> bool:
    return isinstance(x, str)


def _is_object(x: Any) -> bool:
    return isinstance(x, dict)


def _is_array(x: Any) -> bool:
    return isinstance(x, list)


def _is_boolean(x: Any) -> bool:
    return isinstance(x, bool)


def _is_null(x: Any) -> bool:
    return x is None


def _is_number(x: Any) -> bool:
    kind = type(x)
    if kind is int or kind is float:
        return True
    if kind is str or kind is bool or kind is dict or kind is list or x is None:
        return False
    return bool(_TYPE_CHECKER.is_type(x, "number"))


def _is_integer(x: Any) -> bool:
    kind = type(x)
    if kind is int:
        return True
    if kind is float:
        return x.is_integer()  # Draft 6+ counts 1.0 as an integer
    if kind is str or kind is bool or kind is dict or kind is list or x is None:
        return False
    return bool(_TYPE_CHECKER.is_type(x, "integer"))


_TYPE_TESTS: dict[str, Predicate] = {
    "string": _is_string,
    "object": _is_object,
    "array": _is_array,
    "boolean": _is_boolean,
    "null": _is_null,
    "number": _is_number,
    "integer": _is_integer,
}


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def _any_of(checks: list[Predicate]) -> Predicate:
    checks_tuple = tuple(checks)

    def any_of(x: Any) -> bool:
        for check in checks_tuple:  # noqa: SIM110 - a plain loop is faster than all()/any() here
            if check(x):
                return True
        return False

    return any_of


class _KeyRouter:
    """For patternProperties: the subschema checks whose regex re.search finds in a property name.

    The answer depends on the name alone and objects reuse the same few names, so it is cached
    (bounded: custom property names are unbounded). Non-string names are not cached; re.search
    raises on them just as in jsonschema.
    """

    def __init__(self, routes: list[tuple[str, Predicate]]) -> None:
        self._routes = [(re.compile(linear(pattern)).search, check) for pattern, check in routes]
        self._cache: dict[str, tuple[Predicate, ...]] = {}

    def __call__(self, key: Any) -> tuple[Predicate, ...]:
        found = self._cache.get(key) if type(key) is str else None
        if found is None:
            found = tuple(check for search, check in self._routes if search(key))
            if type(key) is str:
                if len(self._cache) >= 50_000:
                    self._cache.clear()
                self._cache[key] = found
        return found


def _all_of(checks: list[Predicate]) -> Predicate:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    checks_tuple = tuple(checks)

    def all_of(x: Any) -> bool:
        for check in checks_tuple:  # noqa: SIM110 - a plain loop is faster than all()/any() here
            if not check(x):
                return False
        return True

    return all_of


class SchemaCompiler:
    """Compiles the bundled schema files into predicates, resolving $ref between files once."""

    def __init__(self) -> None:
        self._documents: dict[str, Any] = {}
        self._compiled: dict[tuple[str, str], Predicate] = {}

    def compile_file(self, path: str) -> Predicate:
        return self._compile_ref_target(os.path.normpath(path), "")

    def _document(self, path: str) -> Any:
        if path not in self._documents:
            self._documents[path] = reference.load_schema(path)
        return self._documents[path]

    def _compile_ref_target(self, path: str, pointer: str) -> Predicate:
        key = (path, pointer)
        if key in self._compiled:
            return self._compiled[key]
        # A cell so recursive references compile to a late-bound call.
        cell: list[Predicate] = []

        def late(x: Any) -> bool:
            return cell[0](x)

        self._compiled[key] = late
        node = self._document(path)
        for part in [p for p in pointer.split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise UnsupportedSchema(f"cannot resolve #{pointer} in {path}")
            node = node[part]
        compiled = self._compile(node, path)
        cell.append(compiled)
        self._compiled[key] = compiled
        return compiled

    def _ref(self, ref: str, path: str) -> Predicate:
        file_part, _, pointer = ref.partition("#")
        if "://" in file_part or os.path.isabs(file_part):
            raise UnsupportedSchema(f"non-relative $ref {ref!r}")
        target = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not os.path.isfile(target):
            raise UnsupportedSchema(f"$ref {ref!r} from {path} does not name a bundled file")
        return self._compile_ref_target(target, pointer)

    def _compile(self, schema: Any, path: str) -> Predicate:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise UnsupportedSchema(f"schema node {schema!r}")
        checks: list[Predicate] = []
        for keyword, value in schema.items():
            if keyword in _IGNORED_KEYWORDS or keyword in ("then", "else"):
                continue
            handler = getattr(self, "_kw_" + keyword.replace("$", "dollar_"), None)
            if handler is None:
                raise UnsupportedSchema(f"keyword {keyword!r} in {path}")
            checks.append(handler(value, schema, path))
        return _all_of(checks)

    # -- keywords -----------------------------------------------------------------------------

    def _kw_dollar_ref(self, ref: Any, schema: dict[str, Any], path: str) -> Predicate:
        if not isinstance(ref, str):
            raise UnsupportedSchema("$ref is not a string")
        return self._ref(ref, path)

    def _kw_type(self, types: Any, schema: dict[str, Any], path: str) -> Predicate:
        names = [types] if isinstance(types, str) else list(types)
        try:
            tests = tuple(_TYPE_TESTS[name] for name in names)
        except KeyError as error:
            raise UnsupportedSchema(f"type {types!r}") from error
        return tests[0] if len(tests) == 1 else _any_of(list(tests))

    def _kw_enum(self, values: Any, schema: dict[str, Any], path: str) -> Predicate:
        if all(isinstance(v, str) for v in values):
            allowed = frozenset(values)
            # jsonschema's equal() compares with == whenever one side is a string.
            return lambda x: isinstance(x, str) and x in allowed
        options = list(values)
        return lambda x: any(json_equal(each, x) for each in options)

    def _kw_const(self, value: Any, schema: dict[str, Any], path: str) -> Predicate:
        return lambda x: bool(json_equal(x, value))

    def _kw_pattern(self, pattern: str, schema: dict[str, Any], path: str) -> Predicate:
        search = re.compile(linear(pattern)).search  # jsonschema uses re.search(pattern, instance)
        return lambda x: not isinstance(x, str) or search(x) is not None

    def _kw_format(self, fmt: str, schema: dict[str, Any], path: str) -> Predicate:
        return lambda x: bool(_FORMAT_CHECKER.conforms(x, fmt))

    def _kw_minLength(self, n: int, schema: dict[str, Any], path: str) -> Predicate:
        return lambda x: not isinstance(x, str) or len(x) >= n

    def _kw_maxLength(self, n: int, schema: dict[str, Any], path: str) -> Predicate:
        return lambda x: not isinstance(x, str) or len(x) <= n

    def _kw_minimum(self, n: Any, schema: dict[str, Any], path: str) -> Predicate:
        return lambda x: not _is_number(x) or not x < n

    def _kw_maximum(self, n: Any, schema: dict[str, Any], path: str) -> Predicate:
        return lambda x: not _is_number(x) or not x > n

    def _kw_minItems(self, n: int, schema: dict[str, Any], path: str) -> Predicate:
        return lambda x: not isinstance(x, list) or len(x) >= n

    def _kw_minProperties(self, n: int, schema: dict[str, Any], path: str) -> Predicate:
        return lambda x: not isinstance(x, dict) or len(x) >= n

    def _kw_required(self, names: list[str], schema: dict[str, Any], path: str) -> Predicate:
        required = tuple(names)

        def has_required(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for name in required:  # noqa: SIM110 - a plain loop is faster than all()/any() here
                if name not in x:
                    return False
            return True

        return has_required

    def _kw_properties(self, props: dict[str, Any], schema: dict[str, Any], path: str) -> Predicate:
        compiled = tuple((name, self._compile(sub, path)) for name, sub in props.items())

        def properties(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for name, check in compiled:  # noqa: SIM110 - a plain loop is faster than all()/any() here
                if name in x and not check(x[name]):
                    return False
            return True

        return properties

    def _kw_patternProperties(self, props: dict[str, Any], schema: dict[str, Any], path: str) -> Predicate:
        checks_for_key = _KeyRouter([(p, self._compile(sub, path)) for p, sub in props.items()])

        def pattern_properties(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for key, value in x.items():
                for check in checks_for_key(key):
                    if not check(value):
                        return False
            return True

        return pattern_properties

    def _kw_additionalProperties(self, extra: Any, schema: dict[str, Any], path: str) -> Predicate:
        if extra is True or extra == {}:
            return _always
        named = frozenset(schema.get("properties", {}))
        router = _KeyRouter([(p, _always) for p in schema.get("patternProperties", {})])
        check = None if extra is False else self._compile(extra, path)

        def additional_properties(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for key, value in x.items():
                if key in named or router(key):
                    continue
                if check is None or not check(value):
                    return False
            return True

        return additional_properties

    def _kw_items(self, items: Any, schema: dict[str, Any], path: str) -> Predicate:
        if "prefixItems" in schema:
            raise UnsupportedSchema("prefixItems")
        check = self._compile(items, path)

        def all_items(x: Any) -> bool:
            if not isinstance(x, list):
                return True
            for item in x:  # noqa: SIM110 - a plain loop is faster than all()/any() here
                if not check(item):
                    return False
            return True

        return all_items

    def _kw_contains(self, contains: Any, schema: dict[str, Any], path: str) -> Predicate:
        if "minContains" in schema or "maxContains" in schema:
            raise UnsupportedSchema("minContains/maxContains")
        check = self._compile(contains, path)
        return lambda x: not isinstance(x, list) or any(check(item) for item in x)

    def _kw_propertyNames(self, names: Any, schema: dict[str, Any], path: str) -> Predicate:
        check = self._compile(names, path)
        return lambda x: not isinstance(x, dict) or all(check(key) for key in x)

    def _kw_allOf(self, subs: list[Any], schema: dict[str, Any], path: str) -> Predicate:
        return _all_of([self._compile(sub, path) for sub in subs])

    def _kw_anyOf(self, subs: list[Any], schema: dict[str, Any], path: str) -> Predicate:
        return _any_of([self._compile(sub, path) for sub in subs])

    def _kw_oneOf(self, subs: list[Any], schema: dict[str, Any], path: str) -> Predicate:
        checks = tuple(self._compile(sub, path) for sub in subs)
        return lambda x: sum(1 for check in checks if check(x)) == 1

    def _kw_not(self, sub: Any, schema: dict[str, Any], path: str) -> Predicate:
        check = self._compile(sub, path)
        return lambda x: not check(x)

    def _kw_if(self, condition: Any, schema: dict[str, Any], path: str) -> Predicate:
        test = self._compile(condition, path)
        then = self._compile(schema["then"], path) if "then" in schema else _always
        otherwise = self._compile(schema["else"], path) if "else" in schema else _always
        return lambda x: then(x) if test(x) else otherwise(x)


_COMPILER = SchemaCompiler()
# schema file path -> predicate, or None when the file cannot be compiled (then: reference path)
_SCHEMA_PREDICATES: dict[str, Predicate | None] = {}


def _schema_predicate(schema_path: str) -> Predicate | None:
    if schema_path not in _SCHEMA_PREDICATES:
        try:
            _SCHEMA_PREDICATES[schema_path] = _COMPILER.compile_file(schema_path)
        except UnsupportedSchema:
            _SCHEMA_PREDICATES[schema_path] = None
    return _SCHEMA_PREDICATES[schema_path]


# type -> schema file, mirroring validator._schema_validate/_get_error_generator for version 2.1.
_SCHEMA_PATH_CACHE: dict[tuple[str, bool], str | None] = {}


def _schema_path_for(obj_type: str, sco_core: bool) -> str | None:
    key = (obj_type, sco_core)
    if key not in _SCHEMA_PATH_CACHE:
        if len(_SCHEMA_PATH_CACHE) >= 10_000:  # custom type names are unbounded
            _SCHEMA_PATH_CACHE.clear()
        path = reference.find_schema(SCHEMA_DIR, obj_type)
        if path is None:
            path = reference.find_schema(SCHEMA_DIR, "cyber-observable-core" if sco_core else "core")
        _SCHEMA_PATH_CACHE[key] = path
    return _SCHEMA_PATH_CACHE[key]


def schema_accepts(obj: dict[str, Any]) -> bool:
    """True only when the bundled schema for obj's type reports no error."""
    obj_type = obj["type"]
    sco_core = "created" not in obj and "modified" not in obj and obj_type != "marking-definition"
    schema_path = _schema_path_for(obj_type, sco_core)
    if schema_path is None:
        return False
    predicate = _schema_predicate(schema_path)
    return predicate is not None and predicate(obj)


# --------------------------------------------------------------------------------------------
# 2a. Timestamps: the `timestamp` MUST check without dateutil for the common case
# --------------------------------------------------------------------------------------------

_TS_FORMAT = musts.TIMESTAMP_FORMAT_RE


class Defer(Exception):
    """The fast path is not sure; the reference validator decides."""


def _calendar_valid(text: str) -> bool:
    """For a string matching TIMESTAMP_FORMAT_RE: True proves dateutil's parser accepts it.

    Such a string has fixed positions; dateutil fails on it only through datetime's own range
    checks (year 0, a day beyond the month, second 60). False means "ask dateutil".
    """
    year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
    return year >= 1 and int(text[17:19]) < 60 and day <= calendar.monthrange(year, month)[1]


def fast_timestamp(instance: Mapping[str, Any]) -> Any:
    """musts.timestamp without dateutil in the common case (stix2-validator 3.3, BSD-3-Clause).

    For non-observable objects the reference only parses created/modified and the type's extra
    timestamp properties; those strings get the calendar check and, when in doubt, the reference
    function runs. Cyber-observable content always goes to the reference function.
    """
    if has_cyber_observable_data(instance, "2.1"):
        yield from musts.timestamp(instance)
        return
    timestamp_props = ["created", "modified"]
    if instance["type"] in enums.TIMESTAMP_PROPERTIES:
        timestamp_props += enums.TIMESTAMP_PROPERTIES[instance["type"]]
    for tprop in timestamp_props:
        if tprop in instance and _TS_FORMAT.match(instance[tprop]) and not _calendar_valid(instance[tprop]):
            raise Defer(tprop)


# --------------------------------------------------------------------------------------------
# 2b. STIX patterns: an exact recogniser for the common shapes, the ANTLR parser for the rest
# --------------------------------------------------------------------------------------------

# The ANTLR lexer's keywords; a word equal to one of them is never an identifier (keywords and
# 'true'/'false' literals come before the identifier rules and win ties of equal length).
_PATTERN_KEYWORDS = frozenset(
    [
        "AND",
        "OR",
        "NOT",
        "FOLLOWEDBY",
        "LIKE",
        "MATCHES",
        "ISSUPERSET",
        "ISSUBSET",
        "EXISTS",
        "LAST",
        "IN",
        "START",
        "STOP",
        "SECONDS",
        "true",
        "false",
        "WITHIN",
        "REPEATS",
        "TIMES",
    ]
)
# One token at a time. The subset is deliberately narrow: a number must be followed by a
# delimiter (so '1.5', '01', '1x' are not split differently from ANTLR's longest match), a word
# must not be followed by a quote (t'..', h'..', b'..' are other literals), '.' must not be
# followed by a digit (that is a float literal), and comments or other characters are refused.
_PATTERN_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\n]+)"""
    r"""|(?P<string>'(?:[^'\\]|\\['\\])*')"""
    r"""|(?P<number>(?:0|[1-9][0-9]*)(?=[ \t\r\n\]),]|$))"""
    r"""|(?P<word>[A-Za-z_][A-Za-z0-9_-]*(?!['A-Za-z0-9_-]))"""
    r"""|(?P<op>==|!=|<>|<=|>=|=|<|>)"""
    r"""|(?P<dot>\.(?![0-9]))"""
    r"""|(?P<punct>[\[\]:(),*])"""
)
_EQUALITY_OPS = frozenset({"=", "==", "!=", "<>"})
_ORDER_OPS = frozenset({"<", "<=", ">", ">="})
_STRING_OPS = frozenset({"LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"})

Comparisons = dict[str, list[tuple[list[Any], str, str]]]


class _NotRecognised(Exception):
    pass


def _tokenize(pattern: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    covered = 0
    # findall resumes one character later after a failed match; no token can be empty, so the
    # matches tile the whole string (as a match-at-each-end loop would) exactly when their
    # lengths add up to its length.
    for ws, string, number, word, op, dot, punct in _PATTERN_TOKEN.findall(pattern):
        if ws:
            covered += len(ws)
        elif string:
            covered += len(string)
            tokens.append(("string", string))
        elif number:
            covered += len(number)
            tokens.append(("number", number))
        elif word:
            covered += len(word)
            tokens.append(("keyword" if word in _PATTERN_KEYWORDS else "ident", word))
        else:
            text = op or dot or punct
            covered += len(text)
            tokens.append((text, text))
    if covered != len(pattern):
        raise _NotRecognised(pattern)
    tokens.append(("eof", ""))
    return tokens


def _unquote(literal: str) -> str:
    # Same unescaping, in the same order, as stix2patterns.inspector._string_literal_to_string.
    return literal[1:-1].replace("\\'", "'").replace("\\\\", "\\")


class _PatternRecogniser:
    """Recursive descent over a subset of the STIX 2.1 pattern grammar.

    Returns the comparison data stix2patterns' InspectionListener would collect, or raises
    _NotRecognised for anything outside the subset (qualifiers, IN, EXISTS, floats, timestamps,
    hex/binary literals, comments, unusual whitespace).
    """

    def __init__(self, pattern: str) -> None:
        self.tokens = _tokenize(pattern)
        self.index = 0
        self.comparisons: Comparisons = {}

    def peek(self) -> str:
        return self.tokens[self.index][0]

    def take(self, *kinds: str) -> str:
        kind, text = self.tokens[self.index]
        if kind not in kinds:
            raise _NotRecognised(kind)
        self.index += 1
        return text

    def pattern(self) -> Comparisons:
        self.observation_expressions()
        self.take("eof")
        return self.comparisons

    def observation_expressions(self) -> None:
        self.observation()
        while self.tokens[self.index] in (("keyword", "AND"), ("keyword", "OR"), ("keyword", "FOLLOWEDBY")):
            self.index += 1
            self.observation()

    def observation(self) -> None:
        if self.peek() == "(":
            self.take("(")
            self.observation_expressions()
            self.take(")")
        else:
            self.take("[")
            self.comparison_expression()
            self.take("]")

    def comparison_expression(self) -> None:
        self.comparison()
        while self.tokens[self.index] in (("keyword", "AND"), ("keyword", "OR")):
            self.index += 1
            self.comparison()

    def comparison(self) -> None:
        if self.peek() == "(":
            self.take("(")
            self.comparison_expression()
            self.take(")")
            return
        object_type = self.take("ident")
        self.take(":")
        path: list[Any] = [self.path_component()]
        while self.peek() in (".", "["):
            if self.take(".", "[") == ".":
                path.append(self.path_component())
            else:
                step = self.take("number", "*")
                path.append(INDEX_STAR if step == "*" else int(step))
                self.take("]")
        op = ""
        if self.tokens[self.index] == ("keyword", "NOT"):
            self.index += 1
            op = "NOT "
        kind, text = self.tokens[self.index]
        self.index += 1
        if kind in _EQUALITY_OPS:
            value = (
                self.take("string", "number")
                if self.tokens[self.index][1] not in ("true", "false")
                else self.take("keyword")
            )
        elif kind in _ORDER_OPS:
            value = self.take("string", "number")
        elif kind == "keyword" and text in _STRING_OPS:
            value = self.take("string")
        else:
            raise _NotRecognised(text)
        self.comparisons.setdefault(object_type, []).append((path, op + text, value))

    def path_component(self) -> str:
        kind, text = self.tokens[self.index]
        self.index += 1
        if kind == "string":
            return _unquote(text)
        if kind == "ident" and "-" not in text:  # only IdentifierWithoutHyphen is allowed here
            return text
        raise _NotRecognised(text)


class _PatternData:
    def __init__(self, comparisons: Comparisons) -> None:
        self.comparisons = comparisons


def _inspection_clean(comparisons: Comparisons) -> bool:
    """musts.patterns' checks of types and properties, for the options this module uses."""
    for object_type, expressions in comparisons.items():
        if object_type not in enums.OBSERVABLE_TYPES and (
            not musts.TYPE_FORMAT_RE.match(object_type) or not 3 <= len(object_type) <= 250
        ):
            return False
        known = enums.OBSERVABLE_PROPERTIES.get(object_type, ())
        for path, _op, _value in expressions:
            prop = path[0]
            if prop not in known and not musts.PROPERTY_FORMAT_RE.match(prop):
                return False
    return True


def pattern_recognised_clean(pattern: str) -> bool:
    """True proves stix2-validator's `patterns` check passes for this STIX 2.1 pattern."""
    try:
        comparisons = _PatternRecogniser(pattern).pattern()
        # The hash-value check run_validator adds after parsing (stix2patterns' own function).
        if pattern_object_validator.verify_object(_PatternData(comparisons)):
            return False
    except (_NotRecognised, IndexError, AttributeError, ValueError, TypeError):
        return False
    return _inspection_clean(comparisons)


# The custom-prefix branches of musts.patterns are dead under these options; the recogniser
# relies on that.
_PATTERN_FAST_PATH = "extensions-use" not in OPTIONS.disabled
_PATTERN_CACHE_LIMIT = 200_000
_clean_patterns: set[str] = set()
# The ANTLR parser takes ~22 us a character; a longer pattern the recogniser does not accept is not parsed
# here (the object is then not accepted, and validate.py refuses to parse it too).
MAX_PARSED_PATTERN_CHARS = 100_000


def fast_patterns(instance: Mapping[str, Any], options: ValidationOptions) -> Any:
    """musts.patterns, answered from the recogniser or a cache when the answer is 'no errors'."""
    if (
        instance["type"] != "indicator"
        or instance.get("pattern_type", "") != "stix"
        or isinstance(instance.get("pattern", None), str) is False
    ):
        return
    pattern = instance["pattern"]
    if "pattern_version" in instance:
        version = instance["pattern_version"]
    elif "spec_version" in instance:
        version = instance["spec_version"]
    else:
        version = "2.1"
    if isinstance(version, str) and version == "2.1" and _PATTERN_FAST_PATH:
        if pattern in _clean_patterns:
            return
        if pattern_recognised_clean(pattern):
            _remember_clean(pattern)
            return
    if len(pattern) > MAX_PARSED_PATTERN_CHARS:
        yield "not sure: too long to parse here"  # any item makes accepts() False
        return
    errors = list(musts.patterns(instance, options))
    if not errors and isinstance(version, str) and version == "2.1":
        _remember_clean(pattern)
    yield from errors


def _remember_clean(pattern: str) -> None:
    if len(_clean_patterns) >= _PATTERN_CACHE_LIMIT:
        _clean_patterns.clear()
    _clean_patterns.add(pattern)


# --------------------------------------------------------------------------------------------
# 3. The MUST and SHOULD checks, and the entry point
# --------------------------------------------------------------------------------------------


def _compare(first: Any, op: str, second: Any) -> bool:
    """musts.compare without strptime when the answer is certain.

    Two same-length strings matching TIMESTAMP_FORMAT_RE have fixed-width fields and the same
    number of fraction digits, so chronological order (when both parse) and string order (when
    either does not, which is what the reference then compares) are both plain string order.
    """
    if (
        type(first) is str
        and type(second) is str
        and len(first) == len(second)
        and _TS_FORMAT.match(first)
        and _TS_FORMAT.match(second)
    ):
        return bool(first >= second) if op == "ge" else bool(first > second)
    return bool(musts.compare(first, op, second))


def fast_timestamp_compare(instance: Mapping[str, Any]) -> Any:
    """musts.timestamp_compare (stix2-validator 3.3, BSD-3-Clause) using _compare."""
    compares = [("modified", "ge", "created")]
    compares.extend(enums.TIMESTAMP_COMPARE.get(instance.get("type", ""), []))
    for first, op, second in compares:
        if first in instance and second in instance and not _compare(instance[first], op, instance[second]):
            raise Defer(first)
    if False:  # pragma: no cover - makes this a generator like the function it replaces
        yield


_REPLACEMENTS: dict[Callable[..., Any], Callable[..., Any]] = {
    musts.timestamp: fast_timestamp,
    musts.timestamp_compare: fast_timestamp_compare,
    musts.patterns: fast_patterns,
}


def _with_arity(check: Callable[..., Any]) -> tuple[Callable[..., Any], bool]:
    # _iter_errors_custom calls check(instance) and retries check(instance, options) on
    # TypeError; the checks that take options declare it as a second positional parameter.
    code = getattr(check, "__code__", None)
    takes_options = code is not None and code.co_argcount >= 2
    return check, takes_options


MUST_CHECKS = [_with_arity(_REPLACEMENTS.get(check, check)) for check in musts.list_musts(OPTIONS)]
SHOULD_CHECKS = [_with_arity(check) for check in shoulds.list_shoulds(OPTIONS)]


def _observable_only(check: Callable[..., Any]) -> bool:
    # util.cyber_observable_check wraps a check so it returns at once unless
    # has_cyber_observable_data(instance, "2.1") (or the narrower 2.0 test) holds.
    return getattr(check, "__qualname__", "").startswith("cyber_observable_check.")


def _vocab_types(check: Callable[..., Any]) -> frozenset[str] | None:
    """Types a shoulds.vocab_* check can act on: it is check_vocab(instance, NAME, code), which loops
    over enums.NAME_USES and does nothing unless instance['type'] equals one of its keys."""
    code = getattr(check, "__code__", None)
    if code is None or code.co_names != ("check_vocab",):
        return None
    names = [c for c in code.co_consts if isinstance(c, str) and hasattr(enums, c + "_USES")]
    return frozenset(getattr(enums, names[0] + "_USES")) if len(names) == 1 else None


# Checks that begin with a guard on instance['type'] and return before touching anything else when
# it fails (read in stix2-validator 3.3's v21/musts.py and v21/shoulds.py): for a node whose type
# is a string outside the set they can neither yield nor raise. Checks not listed run for all.
_ACTS_ONLY_ON: dict[Callable[..., Any], frozenset[str]] = {
    musts.object_marking_circular_refs: frozenset({"marking-definition"}),
    musts.granular_markings_circular_refs: frozenset({"marking-definition"}),
    fast_patterns: frozenset({"indicator"}),
    musts.language_contents: frozenset({"language-content"}),
    musts.uuid_version_check: frozenset(
        {"artifact", "email-message", "user-account", "windows-registry-key", "x509-certificate"}
    ),
    musts.process: frozenset({"process"}),
    shoulds.open_vocab_values: frozenset(enums.VOCAB_PROPERTIES),
    shoulds.kill_chain_phase_names: frozenset(enums.KILL_CHAIN_PHASE_USES),
    shoulds.malware_analysis_product: frozenset({"malware-analysis"}),
    shoulds.relationships_strict: frozenset({"relationship"}),
    shoulds.duplicate_ids: frozenset({"bundle"}),
    shoulds.countries: frozenset({"location"}),
    shoulds.indicator_property_check: frozenset({"indicator"}),
    shoulds.deprecated_property_check: frozenset(enums.DEPRECATED_PROPERTIES),
    shoulds.vocab_marking_definition: frozenset({"marking-definition"}),
}
for _check in shoulds.CHECKS["all"]:
    _types = _vocab_types(_check)
    if _types is not None:
        _ACTS_ONLY_ON[_check] = _types


# SHOULD checks that on the top-level object, once its schema passed, can only make a warning:
# indicator_property_check builds JSONError(constant text, instance['id'], a known check code) and
# pretty_error then joins the id, which the schema made a string. Nested STIX-like objects in
# lists have not been through a schema, so they still get it.
_WARNING_ONLY_ON_SCHEMA_VALID_TOP = frozenset({shoulds.indicator_property_check})

CheckList = list[tuple[Callable[..., Any], bool]]
_checks_by_type: dict[tuple[str, bool, bool, bool], CheckList] = {}


def _checks_for(node_type: Any, observable: bool, must: bool, top: bool = False) -> CheckList:
    """The checks that can act on a node: all of them unless its type is a string."""
    every = MUST_CHECKS if must else SHOULD_CHECKS
    if not isinstance(node_type, str):
        return every
    key = (node_type, observable, must, top)
    if key not in _checks_by_type:
        if len(_checks_by_type) > 10_000:  # custom types are unbounded
            _checks_by_type.clear()
        _checks_by_type[key] = [
            (check, takes_options)
            for check, takes_options in every
            if (observable or not _observable_only(check))
            and node_type in _ACTS_ONLY_ON.get(check, (node_type,))
            and not (top and check in _WARNING_ONLY_ON_SCHEMA_VALID_TOP)
        ]
    return _checks_by_type[key]


def _stix_nodes(instance: dict[str, Any], into: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """instance and every STIX-like object nested in its list properties, as _iter_errors_custom
    walks them (each gets all checks)."""
    into.append(instance)
    for value in instance.values():
        if type(value) is list:
            for item in value:
                if isinstance(item, dict) and "id" in item and "type" in item:
                    _stix_nodes(item, into)
    return into


def _run(check: Callable[..., Any], takes_options: bool, node: dict[str, Any]) -> Any:
    result = check(node, OPTIONS) if takes_options else check(node)
    if result is None or type(result) is GeneratorType:
        return result
    return result if isinstance(result, Iterable) else [result]


def checks_accept(obj: dict[str, Any]) -> bool:
    """No MUST error, and no exception from any MUST or SHOULD check (which would reject).

    Call only for an object whose schema check passed (see _WARNING_ONLY_ON_SCHEMA_VALID_TOP)."""
    nodes = _stix_nodes(obj, [])
    observable = [has_cyber_observable_data(node, "2.1") for node in nodes]
    for node, is_observable in zip(nodes, observable, strict=True):
        for check, takes_options in _checks_for(node["type"], is_observable, must=True):
            result = _run(check, takes_options, node)
            if result is not None:
                for _error in result:
                    return False
    for node, is_observable in zip(nodes, observable, strict=True):
        for check, takes_options in _checks_for(node["type"], is_observable, must=False, top=node is obj):
            result = _run(check, takes_options, node)
            if result is not None:
                for warning in result:
                    pretty_error(warning, OPTIONS.verbose)  # the reference formats warnings too
    return True


def accepts(obj: Any) -> bool:
    """True only if stix2-validator (validate.py's options) reports obj valid without raising.

    False means "invalid or not sure": ask the reference validator.
    """
    try:
        if not ENABLED or type(obj) is not dict or "id" not in obj:
            return False
        obj_type = obj.get("type")
        if not isinstance(obj_type, str) or obj_type == "bundle":
            return False  # bundles get their schema patched and their objects walked: reference path
        if obj_type == "observed-data" and "objects" in obj:
            return False  # deprecated embedded observables are validated one by one: reference path
        return schema_accepts(obj) and checks_accept(obj)
    except Exception:  # any surprise: let the reference decide (it may raise, which rejects)
        return False
