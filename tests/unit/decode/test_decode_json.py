"""Native JSON decoding: what is accepted, and the reason given for each malformed family."""

import orjson
import pytest

from traces.decode import DecodeError, decode, decode_json

GOOD = {"trace_id": "t1", "timestamp": 1700000000, "model": "gpt-4o", "input_tokens": 12}


def test_one_object():
    decoded = decode_json(orjson.dumps(GOOD))
    assert [e.model for e in decoded.events] == ["gpt-4o"]
    assert decoded.errors == [] and decoded.skipped == 0


def test_batch_keeps_good_items_and_reports_bad_ones_by_index():
    batch = [GOOD, {"trace_id": "t2", "timestamp": 1}, 42, {**GOOD, "trace_id": "t3"}]
    decoded = decode_json(orjson.dumps(batch))
    assert [e.trace_id for e in decoded.events] == ["t1", "t3"]
    assert [(e.index, e.reason) for e in decoded.errors] == [
        (1, "missing required field 'model'"),
        (2, "item 2 is a JSON number; expected an event object"),
    ]
    assert orjson.loads(decoded.errors[0].raw) == {"trace_id": "t2", "timestamp": 1}
    assert decoded.errors[1].raw == b"42"


def test_single_bad_object_is_an_item_error_without_index():
    raw = orjson.dumps({**GOOD, "latency_ms": "fast"})
    decoded = decode_json(raw)
    assert decoded.events == []
    (error,) = decoded.errors
    assert error.index is None and error.raw == raw
    assert error.reason == "'latency_ms': must be a number, got string 'fast'"


@pytest.mark.parametrize(
    "patch, reason",
    [
        ({"model": None}, "'model': must be a string, got null"),
        ({"model": ""}, "'model': must not be empty"),
        ({"model": True}, "'model': must be text or a number, not a boolean"),
        ({"user_id": {"id": 1}}, "'user_id': must be text or a number, got an object"),
        ({"input_tokens": True}, "'input_tokens': must be a number, not a boolean"),
        ({"input_tokens": -3}, "'input_tokens': must be ≥ 0, got number -3"),
        ({"input_tokens": 1.5}, "'input_tokens': must be a whole number, got number 1.5"),
        ({"input_tokens": "many"}, "'input_tokens': must be an integer, got string 'many'"),
        ({"status": "pending"}, "'status': must be one of 'ok', 'error' or 'timeout', got string 'pending'"),
        ({"scores": {"g": "high"}}, "'scores.g': must be a number, got string 'high'"),
        ({"scores": [1]}, "'scores': must be an object, got an array"),
        ({"flags": "x"}, "'flags': must be an array, got string 'x'"),
        ({"timestamp": "soon"}, "'timestamp': must be RFC 3339 text or epoch seconds (or milliseconds, microseconds, "
                                "nanoseconds), got string 'soon'"),
        ({"timestamp": True}, "'timestamp': must be RFC 3339 text or epoch seconds (or milliseconds, microseconds, "
                              "nanoseconds), not a boolean"),
        ({"timestamp": 1e300}, "'timestamp': 1e+300 is after the year 3000 in epoch seconds, milliseconds, "
                               "microseconds and nanoseconds"),
        ({"trace_id": "x" * 600}, "'trace_id': is longer than 512 characters"),
    ],
)
def test_field_problems_are_named(patch, reason):
    (error,) = decode_json(orjson.dumps({**GOOD, **patch})).errors
    assert error.reason == reason


def test_several_problems_are_joined_and_capped():
    bad = {"latency_ms": "a", "ttft_ms": "b", "cost_usd": "c", "input_tokens": "d", "output_tokens": "e",
           "status": "f"}
    (error,) = decode_json(orjson.dumps(bad)).errors
    assert error.reason.startswith("missing required field 'trace_id'; ")
    assert error.reason.endswith("and 4 more problems")


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b'{"trace_id": "t1",', "not valid JSON: unexpected end of data (line 1, column 19)"),
        (b'{\n  "a": 1,\n  oops\n}', "not valid JSON: unexpected character, expected a string key (line 3, column 3)"),
        (b'{"latency_ms": NaN}', "not valid JSON: unexpected character, expected a JSON value (line 1, column 16)"),
        (b'{"a": 1e999}', "not valid JSON: number is infinity when parsed as double (line 1, column 7)"),
        (b'{"a": "\\ud800"}', "not valid JSON: no low surrogate in string (line 1, column 8)"),
        (b'{"model": "gpt\xff"}', "not valid UTF-8: byte 0xff at offset 14 (invalid start byte)"),
        (b'', "empty message: expected a JSON object (one event) or an array (a batch)"),
        (b'  \n', "empty message: expected a JSON object (one event) or an array (a batch)"),
        (b'"hello"', "top level is a JSON string; expected an object (one event) or an array of objects (a batch)"),
        (b'3', "top level is a JSON number; expected an object (one event) or an array of objects (a batch)"),
        (b'null', "top level is a JSON null; expected an object (one event) or an array of objects (a batch)"),
        (b'[]', "empty array: a batch must contain at least one event object"),
    ],
)
def test_whole_message_problems_raise_decode_error(raw, reason):
    with pytest.raises(DecodeError) as info:
        decode_json(raw)
    assert info.value.reason == reason
    assert str(info.value) == reason


def test_oversized_says_size_and_limit():
    raw = orjson.dumps({**GOOD, "input": "x" * 2000})
    with pytest.raises(DecodeError) as info:
        decode_json(raw, max_bytes=1000)
    assert info.value.reason == (f"message is {len(raw):,} bytes; the limit is 1,000 bytes "
                                 "(split the batch into smaller messages)")


def test_too_many_items():
    with pytest.raises(DecodeError, match="batch has 3 items; the limit is 2 per message"):
        decode_json(orjson.dumps([GOOD] * 3), max_items=2)


def test_big_integers_become_errors_not_crashes():
    (error,) = decode_json(b'{"trace_id": "t", "timestamp": 99999999999999999999999, "model": "m"}').errors
    assert error.reason == ("'timestamp': 1e+23 is after the year 3000 in epoch seconds, milliseconds, microseconds "
                            "and nanoseconds")


def test_byte_order_mark_is_tolerated():
    assert len(decode_json(b"\xef\xbb\xbf" + orjson.dumps(GOOD)).events) == 1


def test_reasons_never_echo_much_input():
    huge = "A" * 5000
    for payload in ({**GOOD, "status": huge}, {**GOOD, "scores": {huge: "x"}}, {**GOOD, "model": [huge]}):
        (error,) = decode_json(orjson.dumps(payload)).errors
        assert "A" * 60 not in error.reason


def test_decode_dispatches_by_format():
    assert len(decode(orjson.dumps(GOOD), "json").events) == 1
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        decode(b"", "xml")


def test_deeply_nested_chat_input_is_an_item_error():
    deep = "[" * 1000 + "]" * 1000
    raw = ('{"trace_id": "t", "timestamp": 1, "model": "m", "input": ' + deep + "}").encode()
    (error,) = decode_json(raw).errors
    assert error.reason == "invalid event: a value is nested too deeply"
