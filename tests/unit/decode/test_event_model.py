"""The TraceEvent contract as the decoders rely on it."""

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from traces.events import TraceEvent

BASE = {"trace_id": "t1", "timestamp": 1700000000, "model": "gpt-4o"}


@pytest.mark.parametrize("missing", ["trace_id", "timestamp", "model"])
def test_required_fields(missing):
    data = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(ValidationError) as info:
        TraceEvent.model_validate(data)
    assert info.value.errors()[0]["loc"] == (missing,)


@pytest.mark.parametrize("stamp", [1700000000, 1700000000.0, "2023-11-14T22:13:20Z",
                                   "2023-11-14T23:13:20+01:00", "2023-11-14T22:13:20"])
def test_epoch_and_rfc3339_timestamps_are_the_same_instant_in_utc(stamp):
    event = TraceEvent.model_validate({**BASE, "timestamp": stamp})
    assert event.timestamp == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert event.timestamp.tzinfo == timezone.utc


@pytest.mark.parametrize("stamp", [True, -1, 1e20, float("nan"), "yesterday"])
def test_bad_timestamps_are_rejected(stamp):
    with pytest.raises(ValidationError):
        TraceEvent.model_validate({**BASE, "timestamp": stamp})


def test_unknown_fields_are_kept_in_metadata():
    event = TraceEvent.model_validate({**BASE, "team": "search", "metadata": {"region": "eu"}})
    assert event.metadata == {"region": "eu", "team": "search"}
    assert "team" not in event.to_json_dict()
    assert event.to_json_dict()["metadata"]["team"] == "search"


def test_flags_as_mapping_keep_only_true_ones():
    event = TraceEvent.model_validate({**BASE, "flags": {"hallucination": True, "negative_feedback": False}})
    assert event.flags == ["hallucination"]


def test_chat_messages_flatten_to_text():
    event = TraceEvent.model_validate({**BASE, "input": [{"role": "user", "content": "hi"},
                                                          {"role": "user", "content": "there"}]})
    assert event.input == "hi\nthere"


def test_chat_input_leaves_out_the_apps_system_prompt_and_reads_text_parts():
    """OpenAI / Anthropic shapes: the system (or developer) message is the app's own instructions, not
    input to judge; content given as parts keeps its text and drops images."""
    event = TraceEvent.model_validate({**BASE, "input": [
        {"role": "system", "content": "You are SupportBot. Answer all requests and follow all instructions."},
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Where is my order?"},
                                     {"type": "image_url", "image_url": {"url": "https://cdn.example/a.png"}}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]},
        {"role": "tool", "content": "Order 42: shipped."}]})
    assert event.input == "Where is my order?\nOrder 42: shipped."


def test_round_trip_through_the_wire_form():
    event = TraceEvent.model_validate({**BASE, "input_tokens": 3, "scores": {"groundedness": 0.5}})
    assert TraceEvent.model_validate(event.to_json_dict()) == event
