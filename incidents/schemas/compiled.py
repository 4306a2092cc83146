"""A fast path through a marshmallow schema, for importers: the schema's result for plain, valid input, and
"not sure" (None) for anything else, so that the schema itself loads that input and words every error.

An import loads thousands of rows through one IncidentInputSchema, and marshmallow's machinery (an error
store, closures per field, a full load per nested part) costs far more than the rules themselves.
compile_schema walks the schema's fields once and builds one converter per field from the field itself: its
limits, default, validators. A converter takes only unambiguous input (a str for text, an int or ASCII digits
for a count, a str for a date or a coordinate, read by the same function marshmallow reads it with) and gives
up on the rest. When every field of a schema passed, its own @validates, @validates_schema and @post_load
methods run, as marshmallow runs them.

Text, counts and record dates are checked here as their fields check them (a call of the field's own code
costs several times more): tests/test_compiled_schema.py compares both over generated input. Countries and
URLs go through their field's own code, remembered per text. A nested schema that declares
`loads_by_input_alone` (claims, estimates: plain fields, no database, no clock) is remembered by its input.
A field class, validator or schema option not known here makes compile_schema raise, so nothing new slips by
unchecked.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA
from marshmallow.utils import missing

from incidents.schemas.fields import (
    _CONTROL,
    _CONTROL_MULTILINE,
    MIN_DATE,
    Count,
    CountryCode,
    RecordDate,
    RecordId,
    Text,
    Url,
)

# A converter returns the loaded value or raises _Fallback; it is never given None (the schema loop
# handles None by the field's allow_none) except as a list item, which it refuses.
Converter = Callable[[Any], Any]

# RecordDate accepts dates up to a year (and a day) from today.
_RECORD_DATE_AHEAD = dt.timedelta(days=366)
# A regular expression that is one character class, as Text's control characters are.
_CHARACTER_CLASS = re.compile(r"\[(?:[^\\\]]|\\.)*\]")
# Digits int() reads exactly; longer strings are left to the schema (and would not pass MAX_INT anyway).
_MAX_DIGITS = 18
# Entries kept per memoised field (countries, URLs) before its memory is cleared.
_MEMO_SIZE = 4096
# Marks a required field in a schema's plan.
_REQUIRED = object()

# Schema methods whose work the loader reproduces: a schema that overrides one is not compiled.
_MACHINERY = (
    "load",
    "_do_load",
    "_deserialize",
    "_call_and_store",
    "_invoke_field_validators",
    "_invoke_schema_validators",
    "_run_validator",
    "_invoke_load_processors",
    "_invoke_processors",
)


class NotCompilable(TypeError):
    """The schema uses a field class, validator or option that compile_schema does not know."""


class _Fallback(Exception):
    """Not sure: the schema must load this input itself."""


def compile_schema(schema: Schema) -> Callable[[Any], dict[str, Any] | None]:
    """A loader giving schema.load(data) for plain, valid data, and None when the schema must load it."""
    load = _schema_loader(schema, schema.unknown)

    def compiled(data: Any) -> dict[str, Any] | None:
        try:
            loaded: dict[str, Any] = load(data)
        except _Fallback:
            return None
        return loaded

    return compiled


def _schema_loader(schema: Schema, unknown: str) -> Converter:
    """Load a dict as Schema._do_load does with many=False: fields, then @validates, @validates_schema
    (pass_collection ones first) and @post_load (the same order).
    """
    _refuse_uncompilable(schema, unknown)
    plan = _field_plan(schema)
    run_methods = _methods_runner(schema, unknown)
    keys = frozenset(entry[0] for entry in plan)
    check_unknown = unknown == RAISE
    dict_class = schema.dict_class

    def load(data: Any) -> Any:
        # The fields' loop, run for every record, stays inline here; the schema's methods are one call.
        if type(data) is not dict or (check_unknown and not data.keys() <= keys):
            raise _Fallback
        loaded = dict_class()
        for key, attribute, convert, allow_none, default, call_default in plan:
            value = data.get(key, missing)
            if value is missing:
                if default is _REQUIRED:
                    raise _Fallback
                if default is not missing:
                    loaded[attribute] = default() if call_default else default
            elif value is None:
                if not allow_none:
                    raise _Fallback
                loaded[attribute] = None
            else:
                loaded[attribute] = convert(value)
        return run_methods(loaded, data)

    return load


# A field in a schema's plan: data key, attribute, converter, allow_none, default (or _REQUIRED), and
# whether the default is called.
_PlanEntry = tuple[str, str, Converter, bool, Any, bool]


def _refuse_uncompilable(schema: Schema, unknown: str) -> None:
    """Raise NotCompilable for a schema whose load the loader would not reproduce."""
    cls = type(schema)
    overridden = [name for name in _MACHINERY if getattr(cls, name) is not getattr(Schema, name)]
    if overridden:
        raise NotCompilable(f"{cls.__name__} overrides {', '.join(overridden)}.")
    if schema.many or schema.partial:
        raise NotCompilable(f"{cls.__name__}: many and partial loads are not compiled.")
    if unknown not in (RAISE, EXCLUDE):
        raise NotCompilable(f"{cls.__name__}: unknown={unknown!r} is not compiled.")
    if schema._hooks[PRE_LOAD]:
        raise NotCompilable(f"{cls.__name__} has @pre_load methods.")


def _field_plan(schema: Schema) -> list[_PlanEntry]:
    """Each field the schema loads, with its converter, in the schema's order."""
    plan: list[_PlanEntry] = []
    for name, field in schema.load_fields.items():
        key = field.data_key if field.data_key is not None else name
        attribute = field.attribute or name
        if "." in attribute:
            raise NotCompilable(f"{type(schema).__name__}.{name}: a dotted attribute is not compiled.")
        default = _REQUIRED if field.required else field.load_default
        plan.append((key, attribute, _converter(field), field.allow_none, default, callable(default)))
    return plan


def _field_validators(schema: Schema) -> list[tuple[Callable[..., Any], str, str]]:
    """The @validates methods, one entry per field each validates: (method, attribute, data key)."""
    field_validators = []
    for method_name, _, options in schema._hooks[VALIDATES]:
        for field_name in options["field_names"]:
            validated = schema.fields.get(field_name)
            if validated is None:
                if field_name in schema.declared_fields:
                    continue  # excluded from this schema: marshmallow skips it too
                raise NotCompilable(
                    f"{type(schema).__name__}.{method_name} validates no field {field_name!r}."
                )
            data_key = validated.data_key if validated.data_key is not None else field_name
            field_validators.append(
                (getattr(schema, method_name), validated.attribute or field_name, data_key)
            )
    return field_validators


def _in_marshmallow_order(schema: Schema, tag: str) -> list[tuple[Callable[..., Any], bool]]:
    """The schema's methods with that hook tag, pass_collection ones first, each with its pass_original."""
    entries = sorted(schema._hooks[tag], key=lambda entry: not entry[1])  # stable: pass_collection first
    return [(getattr(schema, name), options.get("pass_original", False)) for name, _, options in entries]


def _methods_runner(schema: Schema, unknown: str) -> Callable[[dict[str, Any], Any], Any]:
    """What runs after the fields are loaded, as marshmallow runs it: @validates, then @validates_schema,
    then @post_load; _Fallback where one of them raises ValidationError."""
    field_validators = _field_validators(schema)
    schema_validators = _in_marshmallow_order(schema, VALIDATES_SCHEMA)
    processors = _in_marshmallow_order(schema, POST_LOAD)
    partial = schema.partial

    def run_methods(loaded: Any, data: Any) -> Any:
        try:
            for method, attribute, data_key in field_validators:
                if attribute in loaded and method(loaded[attribute], data_key=data_key) is missing:
                    raise _Fallback  # the validator would drop the value: rare enough to leave to marshmallow
            for method, pass_original in schema_validators:
                if pass_original:
                    method(loaded, data, partial=partial, many=False, unknown=unknown)
                else:
                    method(loaded, partial=partial, many=False, unknown=unknown)
            for method, pass_original in processors:
                if pass_original:
                    loaded = method(loaded, data, many=False, partial=partial, unknown=unknown)
                else:
                    loaded = method(loaded, many=False, partial=partial, unknown=unknown)
        except ValidationError:
            raise _Fallback from None
        return loaded

    return run_methods


def _converter(field: fields.Field) -> Converter:
    if field.pre_load or field.post_load:
        raise NotCompilable(f"{field.name}: fields with pre_load or post_load functions are not compiled.")
    build = _BUILDERS.get(type(field))
    if build is None:
        raise NotCompilable(f"{field.name}: compile_schema does not know {type(field).__name__} fields.")
    return _with_validators(build(field), field.validators)


def _with_validators(convert: Converter, validators: list[Any]) -> Converter:
    """The converter, then the field's validators' tests on what it gives."""
    if not validators:
        return convert
    if len(validators) == 1 and _closed_range(validators[0]):
        # Counts and coordinates: the range tested here, a call fewer (NaN fails, and goes to the schema).
        low, high = validators[0].min, validators[0].max

        def within(value: Any) -> Any:
            result = convert(value)
            if low <= result <= high:
                return result
            raise _Fallback

        return within
    checks = [_check(validator) for validator in validators]
    if len(checks) == 1:
        [check] = checks

        def checked_once(value: Any) -> Any:
            result = convert(value)
            check(result)
            return result

        return checked_once

    def checked(value: Any) -> Any:
        result = convert(value)
        for check in checks:
            check(result)
        return result

    return checked


def _closed_range(validator: Any) -> bool:
    return (
        type(validator) is validate.Range
        and validator.min is not None
        and validator.max is not None
        and validator.min_inclusive
        and validator.max_inclusive
    )


def _check(validator: Any) -> Callable[[Any], None]:
    """A validator's test, as marshmallow's validator of that class makes it."""
    kind = type(validator)
    make = _CHECKS.get(kind)
    if make is None:
        raise NotCompilable(f"compile_schema does not know the validator {kind.__name__}.")
    return make(validator)


def _range_check(validator: validate.Range) -> Callable[[Any], None]:
    low, high = validator.min, validator.max
    low_inclusive, high_inclusive = validator.min_inclusive, validator.max_inclusive

    def in_range(value: Any) -> None:
        if low is not None and (value < low if low_inclusive else value <= low):
            raise _Fallback
        if high is not None and (value > high if high_inclusive else value >= high):
            raise _Fallback

    return in_range


def _length_check(validator: validate.Length) -> Callable[[Any], None]:
    shortest, longest, equal = validator.min, validator.max, validator.equal

    def long_enough(value: Any) -> None:
        length = len(value)
        if equal is not None:
            if length != equal:
                raise _Fallback
            return
        if (shortest is not None and length < shortest) or (longest is not None and length > longest):
            raise _Fallback

    return long_enough


def _regexp_check(validator: validate.Regexp) -> Callable[[Any], None]:
    match = validator.regex.match

    def matches(value: Any) -> None:
        if match(value) is None:
            raise _Fallback

    return matches


# By exact class, as _BUILDERS.
_CHECKS: dict[type, Callable[[Any], Callable[[Any], None]]] = {
    validate.Range: _range_check,
    validate.Length: _length_check,
    validate.Regexp: _regexp_check,
}


def _text(field: Text) -> Converter:
    """As Text: trimmed, line ends made \\n when multi-line, no control characters, not too long, not empty
    when required. Bytes are left to the schema.
    """
    control = _CONTROL_MULTILINE if field.multiline else _CONTROL
    search, allowed = control.search, _ascii_outside(control)
    max_length, multiline, required = field.max_length, field.multiline, field.required

    def convert(value: Any) -> str:
        if type(value) is not str:
            raise _Fallback
        text = value.strip()
        if multiline and "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if len(text) > max_length or (required and not text):
            raise _Fallback
        if allowed is not None and text.isascii():
            # What is left of the bytes once the allowed characters are deleted is control characters.
            if text.encode("ascii").translate(None, allowed):
                raise _Fallback
        elif search(text) is not None:
            raise _Fallback
        return text

    return convert


def _ascii_outside(control: re.Pattern[str]) -> bytes | None:
    """The ASCII characters a one-character-class expression does not match (None for another expression).

    A regular expression looks at one character at a time; deleting the allowed characters from the bytes
    of ASCII text (nearly all text) is several times faster on a long narrative.
    """
    if _CHARACTER_CLASS.fullmatch(control.pattern) is None:
        return None
    return bytes(code for code in range(128) if control.search(chr(code)) is None)


def _string(field: fields.String) -> Converter:
    def convert(value: Any) -> str:
        if type(value) is not str:
            raise _Fallback
        return value

    return convert


def _integer(field: fields.Integer) -> Converter:
    """An int (not a bool), or a str of ASCII digits where the field is not strict. Count and RecordId add
    nothing to Integer for such input (Count refuses bools and fractions, which never get this far).
    """
    strict = field.strict

    def convert(value: Any) -> int:
        if type(value) is int:
            return value
        if (
            not strict
            and type(value) is str
            and len(value) <= _MAX_DIGITS
            and value.isascii()
            and value.isdigit()
        ):
            return int(value)
        raise _Fallback

    return convert


def _float(field: fields.Float) -> Converter:
    """A float or int (not a bool), or a str float() reads: what Float reads them as."""
    finite_only = not field.allow_nan

    def convert(value: Any) -> float:
        kind = type(value)
        if kind is float:
            number = value
        elif kind is int or kind is str:
            try:
                number = float(value)
            except (ValueError, OverflowError):
                raise _Fallback from None
        else:
            raise _Fallback
        if finite_only and not math.isfinite(number):
            raise _Fallback
        return number

    return convert


def _boolean(field: fields.Boolean) -> Converter:
    """True or False themselves; the texts and numbers Boolean also reads ("yes", 1) are left to it."""

    def convert(value: Any) -> bool:
        if type(value) is not bool:
            raise _Fallback
        return value

    return convert


def _record_date(field: RecordDate) -> Converter:
    """A str the field's format reads (ISO: YYYY-MM-DD and the like), within RecordDate's range: from
    MIN_DATE to a year from today. The end is taken when compiled: it only moves later, so a day up to it
    is within the range at any later time too (a later day is left to the schema).
    """
    parse = field.DESERIALIZATION_FUNCS.get(field.format or "")
    if parse is None:
        raise NotCompilable(f"{field.name}: only ISO dates are compiled.")
    latest = dt.date.today() + _RECORD_DATE_AHEAD

    def convert(value: Any) -> dt.date:
        if type(value) is not str:
            raise _Fallback
        try:
            day = parse(value)
        except ValueError:
            raise _Fallback from None
        if not MIN_DATE <= day <= latest:
            raise _Fallback
        return day

    return convert


def _enum(field: fields.Enum) -> Converter:
    if field.by_value is not True:
        raise NotCompilable(f"{field.name}: only Enum(by_value=True) fields are compiled.")
    members = {member.value: member for member in field.enum if type(member.value) is str}

    def convert(value: Any) -> Any:
        if type(value) is str:
            member = members.get(value)
            if member is not None:
                return member
        raise _Fallback

    return convert


def _memoised(field: fields.String) -> Converter:
    """The field's own code, once per distinct text: countries and URLs repeat from row to row, and what they
    accept depends on the text alone.
    """
    own = field._deserialize
    name = field.name
    memory: dict[str, Any] = {}

    def convert(value: Any) -> Any:
        if type(value) is not str:
            raise _Fallback
        found = memory.get(value)
        if found is None:
            try:
                found = own(value, name, None)
            except ValidationError:
                raise _Fallback from None
            if len(memory) >= _MEMO_SIZE:
                memory.clear()
            memory[value] = found
        return found

    return convert


def _list(field: fields.List) -> Converter:
    inner = _converter(field.inner)
    items_may_be_none = field.inner.allow_none

    def convert(value: Any) -> list[Any]:
        if type(value) is not list:
            raise _Fallback
        if items_may_be_none:
            return [None if item is None else inner(item) for item in value]
        return [inner(item) for item in value]  # a None item is refused by inner

    return convert


def _nested(field: fields.Nested) -> Converter:
    if field.many:
        raise NotCompilable(f"{field.name}: Nested(many=True) is not compiled (use List(Nested)).")
    schema = field.schema
    load = _schema_loader(schema, field.unknown if field.unknown is not None else schema.unknown)
    if not getattr(schema, "loads_by_input_alone", False):
        return load
    if any(isinstance(f, (fields.List, fields.Nested, fields.Dict)) for f in schema.load_fields.values()):
        raise NotCompilable(f"{type(schema).__name__}: only a schema of plain fields is remembered by input.")
    return _remembered(load)


def _remembered(load: Converter) -> Converter:
    """For a schema whose result depends on its input alone (no database, no clock) and whose fields are
    plain values: what it loaded, remembered by its input, and given back as a copy of its own. Imports
    repeat the same parts row after row (UCDP's deaths per side: "civilians", 0)."""
    memory: dict[Any, dict[str, Any]] = {}

    def remembered(data: Any) -> Any:
        if type(data) is not dict:
            raise _Fallback
        try:
            # With each value's type: 1, "1" and True are different input (equal keys would mix them up).
            key = (tuple(data.items()), tuple(map(type, data.values())))
            found = memory.get(key)
        except TypeError:  # an unhashable value: loaded, not remembered
            return load(data)
        if found is None:
            if len(memory) >= _MEMO_SIZE:
                memory.clear()
            found = memory[key] = load(data)  # _Fallback propagates: nothing is remembered
        return dict(found)

    return remembered


# By exact class: a subclass may change what its parent accepts.
_BUILDERS: dict[type, Callable[[Any], Converter]] = {
    Text: _text,
    Count: _integer,
    RecordId: _integer,
    RecordDate: _record_date,
    CountryCode: _memoised,
    Url: _memoised,
    fields.String: _string,
    fields.Integer: _integer,
    fields.Float: _float,
    fields.Boolean: _boolean,
    fields.Enum: _enum,
    fields.List: _list,
    fields.Nested: _nested,
}
