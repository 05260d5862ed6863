"""The series-state table's store starts with what was read before Faust started, and then behaves as
Faust's memory store."""

from __future__ import annotations

import asyncio

from faust.types import TP

from streams.service import build_service
from streams.settings import Settings
from streams.table_preload import PreloadedStore

CHANGELOG = "tracewatch-series-state-changelog"


def test_the_store_starts_with_the_preloaded_series_and_tells_faust_where_it_stopped():
    PreloadedStore.loaded[CHANGELOG] = ({b"a": b"1", b"b": b"2"}, {b"a": 0, b"b": 1}, {0: 41, 1: 7})
    tw = build_service(Settings(_env_file=None), "kafka://127.0.0.1:9", web_enabled=False)
    table = tw.series_state
    assert isinstance(table.data, PreloadedStore)
    assert (table.get(b"a"), table.get(b"b")) == (b"1", b"2")
    assert table.persisted_offset(TP(CHANGELOG, 0)) == 41 and table.persisted_offset(TP(CHANGELOG, 1)) == 7
    assert table.persisted_offset(TP(CHANGELOG, 2)) is None  # nothing read: Faust recovers it from the start
    assert CHANGELOG not in PreloadedStore.loaded  # handed over once, not kept twice

    # Given only partition 0: partition 1's series go, and later assignments recover from the start.
    asyncio.run(table.data.on_recovery_completed({TP(CHANGELOG, 0)}, set()))
    assert table.get(b"a") == b"1" and table.get(b"b") is None
    assert table.persisted_offset(TP(CHANGELOG, 0)) is None


def test_without_a_preload_the_store_is_faust_memory_store():
    PreloadedStore.loaded.pop(CHANGELOG, None)
    tw = build_service(Settings(_env_file=None), "kafka://127.0.0.1:9", web_enabled=False)
    assert tw.series_state.persisted_offset(TP(CHANGELOG, 0)) is None
    assert tw.series_state.get(b"a") is None


def test_the_incident_table_starts_with_its_changelog_decoded_as_faust_would():
    # The incident table's changelog is JSON (key and value): the store holds what Faust's own recovery
    # would have put there, so the incident agent reads the same incidents either way.
    changelog = "tracewatch-incidents-changelog"
    PreloadedStore.loaded[changelog] = ({b'"budget|user_id=u-1"': b'"{\\"id\\": \\"inc-1\\"}"'},
                                        {b'"budget|user_id=u-1"': 2}, {2: 9})
    tw = build_service(Settings(_env_file=None), "kafka://127.0.0.1:9", web_enabled=False)
    table = tw.incident_table
    assert table.get("budget|user_id=u-1") == '{"id": "inc-1"}'
    assert table.persisted_offset(TP(changelog, 2)) == 9
    asyncio.run(table.data.on_recovery_completed({TP(changelog, 2)}, set()))
    assert table.get("budget|user_id=u-1") == '{"id": "inc-1"}'  # its partition was given: kept
