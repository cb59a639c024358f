"""The codec (tansiq_common.codec): an aggregate's dataclass fields to JSON and table rows and back.

Pure: no database (`make mutants` runs these tests against mutated code).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from types import SimpleNamespace
from typing import Annotated, Any, Literal, Optional
from uuid import UUID

import pytest
from tansiq_common import codec
from tansiq_common.codec import (
    NOT_STATE,
    RowMapper,
    converter,
    from_json,
    state_fields,
    to_json,
)

WHEN = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def empty_caches() -> None:
    """Every test builds the field lists and converters it uses: a converter cached by an
    earlier test would hide the code that builds it from this one (and from mutation testing,
    which runs only the tests seen calling a function)."""
    codec._FIELDS.clear()
    codec._CONVERTERS.clear()
    codec._JSON_CONVERTERS.clear()
    codec._JSON_FORMS.clear()
    codec._ENCODERS.clear()


DAY = date(2025, 3, 10)


class Colour(StrEnum):
    red = "red"
    blue = "blue"


class Level(IntEnum):
    low = 1
    high = 2


class Plain(Enum):
    a = "A"
    b = "B"


@dataclass(frozen=True)
class Names:
    ar: str | None = None
    en: str | None = None


@dataclass(frozen=True)
class Line:
    org_id: str
    colour: Colour


@dataclass
class Record:
    id: str
    names: Names
    colour: Colour
    created_at: datetime
    amount: Decimal
    day: date | None = None
    lines: tuple[Line, ...] = ()
    tags: frozenset[Colour] = frozenset()
    extra: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    cache: str = field(default="", metadata={"transient": True})
    events: list[Any] = field(default_factory=list)


def record(**changes: Any) -> Record:
    values: dict[str, Any] = {
        "id": "r1",
        "names": Names(ar="وزارة", en="Ministry"),
        "colour": Colour.red,
        "created_at": WHEN,
        "amount": Decimal("10.50"),
        "day": DAY,
        "lines": (Line("o2", Colour.blue), Line("o1", Colour.red)),
        "tags": frozenset({Colour.red, Colour.blue}),
        "extra": {"k": [1, 2]},
        "version": 3,
    }
    return Record(**{**values, **changes})


STATE = {
    "id": "r1",
    "names": {"ar": "وزارة", "en": "Ministry"},
    "colour": "red",
    "created_at": "2025-03-10T09:30:00+00:00",
    "amount": "10.50",
    "day": "2025-03-10",
    "lines": [{"org_id": "o2", "colour": "blue"}, {"org_id": "o1", "colour": "red"}],
    "tags": ["blue", "red"],
    "extra": {"k": [1, 2]},
    "version": 3,
}


# --- the field list -----------------------------------------------------------------------------


def test_state_fields_are_the_dataclass_fields_in_order_without_bookkeeping():
    names = [name for name, _ in state_fields(Record)]
    assert names == list(STATE)
    assert "events" in NOT_STATE
    assert "cache" not in names  # marked transient


def test_state_fields_carry_the_resolved_type_hints():
    types = dict(state_fields(Record))
    assert types["names"] is Names
    assert types["created_at"] is datetime
    assert types["day"] == date | None
    assert types["lines"] == tuple[Line, ...]


def test_state_fields_are_read_once_per_class():
    @dataclass
    class Once:
        a: int
        b: str = ""

    first = state_fields(Once)
    assert first == (("a", int), ("b", str))
    assert state_fields(Once) is first


def test_a_field_marked_not_transient_is_state():
    @dataclass
    class Kept:
        a: int = field(default=0, metadata={"transient": False})
        b: int = field(default=0, metadata={"other": True})

    assert [n for n, _ in state_fields(Kept)] == ["a", "b"]


# --- to JSON ------------------------------------------------------------------------------------


def test_an_aggregate_becomes_its_state_as_json():
    assert to_json(record()) == STATE


def test_enums_become_their_plain_values():
    assert to_json(Colour.red) == "red"
    assert type(to_json(Colour.red)) is str  # not the StrEnum member, which is a str too
    assert to_json(Level.high) == 2
    assert type(to_json(Level.high)) is int
    assert to_json(Plain.a) == "A"


@pytest.mark.parametrize("value", [None, "text", "", 0, 7, -1, True, False, 1.5])
def test_json_scalars_pass_as_they_are(value):
    assert to_json(value) is value


def test_times_dates_and_money():
    assert to_json(WHEN) == "2025-03-10T09:30:00+00:00"
    assert to_json(DAY) == "2025-03-10"
    assert to_json(Decimal("0.10")) == "0.10"  # money keeps its digits, never a float


def test_sets_are_sorted_lists_of_json():
    assert to_json(frozenset({3, 1, 2})) == [1, 2, 3]
    assert to_json({"b", "a"}) == ["a", "b"]
    assert to_json(frozenset({Colour.red, Colour.blue})) == ["blue", "red"]
    assert to_json(set()) == []


def test_mappings_get_text_keys_and_json_values():
    assert to_json({1: Colour.red, "x": {"y": DAY}}) == {"1": "red", "x": {"y": "2025-03-10"}}


def test_sequences_and_iterables_become_lists():
    assert to_json((1, Colour.blue)) == [1, "blue"]
    assert to_json([Names("a", "b")]) == [{"ar": "a", "en": "b"}]
    assert to_json(n * 2 for n in range(3)) == [0, 2, 4]


def test_what_has_no_json_form_is_refused():
    with pytest.raises(TypeError, match="cannot encode object"):
        to_json(object())
    with pytest.raises(TypeError, match="cannot encode type"):
        to_json(Names)  # a dataclass class is not an instance
    with pytest.raises(TypeError, match="cannot encode complex"):
        to_json(1j)


def test_an_encoder_built_for_the_type_gives_to_jsons_answer_in_its_order():
    encode = codec.typed_encoder(Record)
    assert encode(record()) == STATE
    assert list(encode(record())) == list(STATE)
    bare = record(names=Names(), day=None, lines=(), tags=frozenset(), version=0)
    assert encode(bare) == to_json(bare)
    assert encode(bare)["names"] == {"ar": None, "en": None}


@pytest.mark.parametrize(
    "changes",
    [
        {"colour": "red"},  # text where a choice is declared
        {"colour": Level.high},  # another enum's member
        {"created_at": DAY},  # a date where a time is declared
        {"day": WHEN},  # a time where a date is declared
        {"version": True},  # a bool is an int, yet stays a bool
        {"version": Level.low},  # an IntEnum is an int, yet encodes as its value
        {"id": Colour.blue},  # a StrEnum member where text is declared
        {"names": None, "lines": [Line("o", Colour.red)], "tags": {Colour.red}},
    ],
)
def test_values_not_of_their_declared_type_encode_as_to_json_does(changes):
    odd = record(**changes)
    encoded = codec.typed_encoder(Record)(odd)
    assert encoded == to_json(odd)
    assert [type(v) for v in encoded.values()] == [type(v) for v in to_json(odd).values()]


def test_an_instance_of_a_subclass_is_left_to_to_json():
    @dataclass
    class Special(Record):
        note: str = "extra"

    odd = Special(**{f.name: getattr(record(), f.name) for f in dataclasses.fields(Record)})
    assert codec.typed_encoder(Record)(odd) == {**STATE, "note": "extra"}


# --- from JSON ----------------------------------------------------------------------------------


def test_an_aggregate_comes_back_from_its_json():
    back = from_json(Record, STATE)
    assert back == record()
    assert type(back.names) is Names
    assert back.colour is Colour.red
    assert back.lines == (Line("o2", Colour.blue), Line("o1", Colour.red))
    assert type(back.lines) is tuple
    assert back.tags == frozenset({Colour.red, Colour.blue})
    assert type(back.tags) is frozenset
    assert back.amount == Decimal("10.50")
    assert back.created_at == WHEN


def test_absent_members_take_the_fields_defaults():
    assert from_json(
        Record,
        {
            **{k: STATE[k] for k in ("id", "names", "colour")},
            **{
                "created_at": STATE["created_at"],
                "amount": "1",
            },
        },
    ) == Record(
        id="r1",
        names=Names(ar="وزارة", en="Ministry"),
        colour=Colour.red,
        created_at=WHEN,
        amount=Decimal(1),
    )


def test_a_null_member_stays_null():
    assert from_json(Names, {"ar": None, "en": "x"}) == Names(None, "x")
    assert from_json(Record, {**STATE, "day": None}).day is None


@pytest.mark.parametrize(
    "tp", [int, str, datetime, date, Decimal, Colour, Names, list[int], int | None, Any]
)
def test_none_is_none_whatever_the_type(tp):
    assert converter(tp)(None) is None


def test_scalars_are_coerced_to_their_field_type():
    assert converter(int)("7") == 7
    assert type(converter(int)("7")) is int
    assert converter(int)(True) == 1
    assert type(converter(int)(True)) is int
    assert converter(float)(2) == 2.0
    assert type(converter(float)(2)) is float
    assert converter(bool)(1) is True
    assert converter(bool)(0) is False


def test_values_of_the_right_type_are_returned_as_they_are():
    big = 10**30
    assert converter(int)(big) is big
    text = "".join(["a", "b"])
    assert converter(str)(text) is text
    assert converter(datetime)(WHEN) is WHEN
    assert converter(date)(DAY) is DAY
    amount = Decimal("3.30")
    assert converter(Decimal)(amount) is amount
    assert converter(Colour)(Colour.blue) is Colour.blue


def test_text_fields_get_text_from_what_a_driver_returns():
    uid = UUID("12345678-1234-5678-1234-567812345678")
    assert converter(str)(uid) == "12345678-1234-5678-1234-567812345678"
    assert type(converter(str)(uid)) is str
    assert converter(str)(Colour.red) == "red"
    assert type(converter(str)(Colour.red)) is str  # a str subclass becomes a plain str


def test_times_dates_and_money_are_parsed():
    assert converter(datetime)("2025-03-10T09:30:00+00:00") == WHEN
    assert converter(date)("2025-03-10") == DAY
    assert converter(Decimal)("10.50") == Decimal("10.50")
    assert converter(Decimal)(0.1) == Decimal("0.1")  # through its text, not its binary value
    assert converter(Decimal)(3) == Decimal(3)


def test_enums_are_looked_up_by_value():
    assert converter(Colour)("blue") is Colour.blue
    assert converter(Level)(2) is Level.high
    assert converter(Plain)("B") is Plain.b
    with pytest.raises(ValueError, match="'green' is not a valid Colour"):
        converter(Colour)("green")


def test_optional_fields_convert_their_one_type():
    assert converter(int | None)("5") == 5
    assert converter(Optional[int])("5") == 5  # noqa: UP045 - the spelling typing.Union gives
    assert converter(None | Colour)("red") is Colour.red
    assert converter(typing.Union[None, date])("2025-03-10") == DAY  # noqa: UP007


def test_a_union_of_several_types_is_taken_as_it_is():
    value = ["x"]
    assert converter(int | str)(value) is value
    assert converter(int | str | None)(value) is value


def test_collections_convert_each_item_into_their_own_kind():
    assert converter(tuple[Colour, ...])(["red", "blue"]) == (Colour.red, Colour.blue)
    assert type(converter(tuple[int, ...])(["1"])) is tuple
    assert converter(list[int])(("1", "2")) == [1, 2]
    assert type(converter(list[int])(("1",))) is list
    assert converter(frozenset[Colour])(["red"]) == frozenset({Colour.red})
    assert type(converter(frozenset[int])([1])) is frozenset
    assert converter(set[int])(["1", "1"]) == {1}
    assert type(converter(set[int])([1])) is set
    assert converter(tuple[Line, ...])([{"org_id": "o", "colour": "red"}]) == (
        Line("o", Colour.red),
    )


def test_a_collection_without_item_type_keeps_its_items():
    items = ["1", Colour.red]
    converted = converter(typing.List)(items)  # noqa: UP006 - the bare generic, no argument
    assert converted == items
    assert converted is not items
    assert type(converted) is list
    assert converter(typing.Tuple)(["1"]) == ("1",)  # noqa: UP006


@pytest.mark.parametrize(
    "tp",
    [
        dict,
        dict[str, int],
        Mapping[str, int],
        Any,
        Annotated[int, "meta"],
        Literal["a", "b"],
        list,
        UUID,
        object,
    ],
)
def test_free_form_and_unknown_types_take_the_value_as_it_is(tp):
    value: Any = {"k": ["1"]}
    assert converter(tp)(value) is value


def test_converters_are_built_once_per_type():
    assert converter(tuple[Level, ...]) is converter(tuple[Level, ...])
    assert converter(Names) is converter(Names)


def test_from_json_is_the_types_converter():
    assert from_json(list[Level], [1, 2]) == [Level.low, Level.high]
    assert from_json(Level, None) is None


# --- table rows ---------------------------------------------------------------------------------


@pytest.fixture
def mapper() -> RowMapper:
    return RowMapper(Record, flatten={"names": "name_"})


ROW_NAMES = [
    "id",
    "name_ar",
    "name_en",
    "colour",
    "created_at",
    "amount",
    "day",
    "lines",
    "tags",
    "extra",
    "version",
]


def test_columns_follow_the_fields_with_flattened_ones_spread(mapper):
    assert mapper.columns() == ROW_NAMES
    assert list(mapper.to_row_names()) == ROW_NAMES
    assert RowMapper(Names).columns() == ["ar", "en"]
    assert RowMapper(Names, flatten=None).flatten == {}


def test_a_row_stores_scalars_natively_and_the_rest_as_json(mapper):
    row = mapper.to_row(record())
    assert row == {
        "id": "r1",
        "name_ar": "وزارة",
        "name_en": "Ministry",
        "colour": "red",
        "created_at": WHEN,
        "amount": Decimal("10.50"),
        "day": DAY,
        "lines": [{"org_id": "o2", "colour": "blue"}, {"org_id": "o1", "colour": "red"}],
        "tags": ["blue", "red"],
        "extra": {"k": [1, 2]},
        "version": 3,
    }
    assert type(row["colour"]) is str
    assert row["created_at"] is WHEN  # a time column takes the datetime, not its text


def test_native_values_and_nulls_are_stored_as_they_are(mapper):
    row = mapper.to_row(record(day=None, version=0, amount=Decimal(0), extra={}))
    assert row["day"] is None
    assert row["version"] == 0
    assert row["amount"] == Decimal(0)
    assert row["extra"] == {}


def test_an_int_enum_column_stores_its_value():
    @dataclass
    class Ranked:
        level: Level
        flag: bool

    row = RowMapper(Ranked).to_row(Ranked(Level.high, True))
    assert row == {"level": 2, "flag": True}
    assert type(row["level"]) is int


def test_a_row_comes_back_as_the_aggregate(mapper):
    row = mapper.to_row(record())
    assert mapper.from_row(row) == record(events=[])
    # A SQLAlchemy Row is read through its mapping.
    assert mapper.from_row(SimpleNamespace(_mapping=row)) == record()


def test_a_flattened_field_is_rebuilt_from_its_columns(mapper):
    row = mapper.to_row(record(names=Names(ar=None, en="Only English")))
    back = mapper.from_row(row)
    assert back.names == Names(ar=None, en="Only English")
    assert type(back.names) is Names


def test_from_row_passes_extra_values_to_the_class():
    @dataclass
    class WithDerived:
        id: str
        depth: int = field(default=0, metadata={"transient": True})

    mapper = RowMapper(WithDerived)
    assert mapper.columns() == ["id"]
    assert mapper.from_row({"id": "x"}, depth=2) == WithDerived("x", 2)


def test_an_optional_flattened_field_is_unwrapped():
    @dataclass
    class MaybeNamed:
        id: str
        names: Names | None = None

    mapper = RowMapper(MaybeNamed, flatten={"names": "n_"})
    assert mapper.columns() == ["id", "n_ar", "n_en"]
    assert mapper.from_row({"id": "x", "n_ar": "أ", "n_en": None}) == MaybeNamed("x", Names("أ"))


def test_a_flattened_fields_columns_are_converted_to_their_types():
    @dataclass
    class Coloured:
        id: str
        line: Line

    mapper = RowMapper(Coloured, flatten={"line": "line_"})
    assert mapper.columns() == ["id", "line_org_id", "line_colour"]
    back = mapper.from_row({"id": "x", "line_org_id": "o", "line_colour": "blue"})
    assert back == Coloured("x", Line("o", Colour.blue))
    assert back.line.colour is Colour.blue


def test_only_dataclasses_have_state_fields():
    with pytest.raises(TypeError):
        state_fields(dict)
    assert dataclasses.is_dataclass(Record)


# --- rows straight to JSON (the read path) -------------------------------------------------------


def test_a_rows_state_is_the_aggregates_json_key_for_key_in_order(mapper):
    row = mapper.to_row(record())
    state = mapper.state_from_row(row)
    assert state == STATE
    assert list(state) == list(STATE)
    assert list(state["names"]) == ["ar", "en"]
    assert type(state["colour"]) is str  # the value, not the StrEnum member


def test_a_rows_state_as_a_driver_returns_it(mapper):
    """asyncpg hands UUIDs as UUID objects, sets as lists in any order, JSON members in
    whatever order JSONB keeps them; the state is the same as through the aggregate."""
    uid = UUID("0b7e6f0a-9d63-4f1b-8a43-5f0f4c1d2e3a")
    row = {
        **mapper.to_row(record()),
        "id": uid,
        "tags": ["red", "blue"],
        "lines": [{"colour": "blue", "org_id": "o2"}],
        "name_ar": None,
    }
    state = mapper.state_from_row(row)
    assert state == to_json(mapper.from_row(row))
    assert state["id"] == "0b7e6f0a-9d63-4f1b-8a43-5f0f4c1d2e3a"
    assert state["tags"] == ["blue", "red"]
    assert list(state["lines"][0]) == ["org_id", "colour"]
    assert state["names"] == {"ar": None, "en": "Ministry"}
    assert mapper.state_from_row(SimpleNamespace(_mapping=row)) == state


def test_a_rows_nulls_stay_null(mapper):
    row = mapper.to_row(record(day=None))
    assert mapper.state_from_row(row)["day"] is None


@pytest.mark.parametrize(
    ("tp", "value", "expected"),
    [
        (Colour, "blue", "blue"),
        (Colour, Colour.blue, "blue"),
        (Level, 2, 2),
        (Level, Level.low, 1),
        (Plain, "B", "B"),
        (Plain, Plain.a, "A"),
        (str, UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (int, "7", 7),
        (int, 7, 7),
        (bool, True, True),
        (float, 2, 2.0),
        (datetime, WHEN, "2025-03-10T09:30:00+00:00"),
        (datetime, "2025-03-10T09:30:00+00:00", "2025-03-10T09:30:00+00:00"),
        (date, DAY, "2025-03-10"),
        (date, "2025-03-10", "2025-03-10"),
        (Decimal, Decimal("1.50"), "1.50"),
        (Colour | None, "red", "red"),
        (frozenset[Colour], ["red", "blue"], ["blue", "red"]),
        (int | str, 5, 5),
        (dict[str, Any], {"a": DAY}, {"a": "2025-03-10"}),
    ],
)
def test_json_converter_is_to_json_of_the_typed_value(tp, value, expected):
    assert codec.json_converter(tp)(value) == expected
    assert type(codec.json_converter(tp)(value)) is type(expected)
    assert codec.json_converter(tp)(value) == to_json(converter(tp)(value))
    assert codec.json_converter(tp)(None) is None


def test_json_converter_refuses_what_the_type_refuses():
    with pytest.raises(ValueError, match="'green' is not a valid Colour"):
        codec.json_converter(Colour)("green")
    with pytest.raises(ValueError, match="is not a valid Level"):
        codec.json_converter(Level)([1])


def test_json_converters_are_built_once_per_type():
    assert codec.json_converter(Colour) is codec.json_converter(Colour)


def test_a_row_with_a_column_per_field_is_the_aggregates_json_key_for_key_in_order():
    """No flattened field: the nested values come as JSONB gives them (members in any order)."""
    mapper = RowMapper(Record)
    row = {
        **mapper.to_row(record()),
        "id": UUID(int=7),
        "names": {"en": "Ministry", "ar": "وزارة"},
        "lines": [{"colour": "blue", "org_id": "o2"}, {"colour": "red", "org_id": "o1"}],
        "tags": ["red", "blue", "red"],
        "version": True,  # not an int: converted as the field's type converts it
    }
    state = mapper.state_from_row(row)
    assert json.dumps(state) == json.dumps(to_json(mapper.from_row(row)))
    assert state == {
        **STATE,
        "id": "00000000-0000-0000-0000-000000000007",
        "version": 1,
    }
    assert type(state["version"]) is int
    assert list(state["names"]) == ["ar", "en"]
    assert state["extra"] is not row["extra"]  # a copy, as to_json makes
    assert mapper.state_from_row(record_row := mapper.to_row(record(day=None)))["day"] is None
    assert mapper.state_from_row(SimpleNamespace(_mapping=record_row))["day"] is None


@dataclass(frozen=True)
class Grown:
    """A nested value whose later fields older rows lack."""

    code: str
    level: Level = Level.low
    seen: tuple[datetime, ...] = (WHEN,)
    tags: frozenset[str] = field(default_factory=lambda: frozenset({"b", "a"}))


@dataclass(frozen=True)
class Tidied:
    """A nested value whose building changes what it is given."""

    code: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", self.code.upper())


@pytest.mark.parametrize(
    ("tp", "value", "expected"),
    [
        (Grown, {"code": "x"}, {"code": "x", "level": 1, "seen": [WHEN.isoformat()], "tags": ["a", "b"]}),
        (Grown, {"tags": ["z", "y", "z"], "extra": 1, "code": "x", "level": 2, "seen": []},
         {"code": "x", "level": 2, "seen": [], "tags": ["y", "z"]}),
        (Grown | None, {"code": "x", "level": 2, "seen": ["2025-03-10T12:30:00+03:00"], "tags": []},
         {"code": "x", "level": 2, "seen": ["2025-03-10T12:30:00+03:00"], "tags": []}),
        (tuple[Grown, ...], [{"code": "x"}, None], [
            {"code": "x", "level": 1, "seen": [WHEN.isoformat()], "tags": ["a", "b"]}, None]),
        (list[int], ["3", 1], [3, 1]),
        (frozenset[int], [3, 1, 3], [1, 3]),
        (frozenset[Level], [2, Level.low, 2], [1, 2]),
        (set[str], [UUID(int=2), "a"], ["00000000-0000-0000-0000-000000000002", "a"]),
        (frozenset[date], ["2025-03-10", "2025-03-09"], ["2025-03-09", "2025-03-10"]),
        (tuple[int, int], ["1", 2], [1, 2]),
        (Tidied, {"code": "abc"}, {"code": "ABC"}),
    ],
)  # fmt: skip
def test_json_converter_of_nested_values_is_to_json_of_the_typed_value(tp, value, expected):
    got = codec.json_converter(tp)(value)
    assert json.dumps(got) == json.dumps(expected)
    assert json.dumps(got) == json.dumps(to_json(converter(tp)(value)))


def test_a_nested_value_lacking_a_required_field_is_refused_as_building_it_is():
    with pytest.raises(TypeError, match="Grown lacks code"):
        codec.json_converter(Grown)({"level": 2})
    with pytest.raises(TypeError):
        converter(Grown)({"level": 2})


def test_values_already_in_their_json_form_are_taken_as_they_are():
    text = "".join(["مر", "حبا"])
    assert codec.json_converter(str)(text) is text
    assert codec.json_converter(str | None)(text) is text
    number = 10**30
    assert codec.json_converter(int)(number) is number
