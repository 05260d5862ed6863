"""What each topic holds: one typed record per topic value, used by the producers and the consumers alike.

=========================  ===============================================================  =====================
topic                      value                                                            record
=========================  ===============================================================  =====================
``tracewatch.traces``      tracewatch JSON: one event or an array                           :class:`traces.events.TraceEvent`
``tracewatch.otlp``        an OTLP ``ExportTraceServiceRequest`` (protobuf or OTLP/JSON)    :mod:`traces.otlp`
``tracewatch.deadletter``  the original bytes; headers name the source and the reason       (bytes)
``tracewatch.series``      a JSON array of bucket summaries of one series                   :class:`detectors.summary.BucketSummary`
``tracewatch.findings``    a finding, or a command on an incident                           :class:`FindingRecord`, :class:`CommandRecord`
``tracewatch.incidents``   a change of an incident and the whole incident                   :class:`incidents.incident.IncidentChange`
``tracewatch.actions``     a runbook execution: steps, attempts, audit                      :class:`runbooks.engine.Execution`
``tracewatch.controls``    a block or a model pin                                           :class:`runbooks.ports.Control`
``tracewatch.prompts``     a prompt's versions, labels and label history                    :class:`runbooks.prompts.PromptRecord`
=========================  ===============================================================  =====================

A value that does not read as its record (a message from an older or foreign producer) is refused with
:class:`RecordError`, whose text says why; the agent dead-letters it and goes on.

>>> from detectors.finding import Finding
>>> f = Finding(time=5.0, detector="cost_spike", kind="cost", series="model=m", severity="warning", score=1)
>>> read_findings_value(f.incident_key.encode(), finding_value(f)) == f
True
>>> read_findings_value(b"k", command_value("ack", time=7.0, by="alice"))
Command(key='k', kind='ack', by='alice', now=7.0)
>>> read_findings_value(b"k", b'{"type": "pause"}')
Traceback (most recent call last):
...
streams.records.RecordError: not a tracewatch.findings record: Input tag 'pause' found using 'type' does not match any of the expected tags: 'finding', 'clear', 'tick', 'ack', 'resolve'
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from detectors.finding import Finding
from incidents.incident import IncidentChange
from runbooks.pipeline import Command, Tick


class RecordError(ValueError):
    """A topic value that is not the record the topic holds."""


class FindingRecord(BaseModel):
    """A detector's finding, keyed by its incident key."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["finding"] = "finding"
    finding: Finding


class CommandRecord(BaseModel):
    """A change to incident ``key`` (the record's key): ``clear`` and ``tick`` say event time has moved
    on (``time``), ``ack`` and ``resolve`` are a person's (``by``)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["clear", "tick", "ack", "resolve"]
    time: float = 0.0
    by: str | None = None


FindingsValue = TypeAdapter(Annotated[Union[FindingRecord, CommandRecord], Field(discriminator="type")])


def finding_value(finding: Finding) -> bytes:
    return FindingRecord(finding=finding).model_dump_json().encode()


def command_value(kind: Literal["clear", "tick", "ack", "resolve"], *, time: float, by: str | None = None) -> bytes:
    return CommandRecord(type=kind, time=time, by=by).model_dump_json(exclude_none=True).encode()


def read_findings_value(record_key: bytes | None, raw: bytes) -> Finding | Tick | Command:
    """A ``tracewatch.findings`` record (its key is the incident key) as the incidents stage takes it."""
    try:
        key = (record_key or b"").decode()
    except UnicodeDecodeError:
        raise RecordError("not a tracewatch.findings record: its key is not UTF-8 text") from None
    if not key:
        raise RecordError("not a tracewatch.findings record: it has no key (the incident key)")
    try:
        record = FindingsValue.validate_json(raw)
    except ValidationError as exc:
        raise RecordError(f"not a tracewatch.findings record: {_first_problem(exc)}") from None
    if isinstance(record, FindingRecord):
        return record.finding
    if record.type in ("clear", "tick"):
        return Tick(key, record.time)
    if record.by is None:
        raise RecordError(f"not a tracewatch.findings record: a {record.type} command names no 'by'")
    return Command(key, record.type, record.by, record.time)


def incident_value(change: IncidentChange) -> bytes:
    return change.to_json()


def read_incident_value(raw: bytes) -> IncidentChange:
    try:
        return IncidentChange.from_json(raw)
    except (ValueError, KeyError, TypeError) as exc:  # orjson and pydantic errors are ValueErrors
        raise RecordError(f"not a tracewatch.incidents record: {str(exc)[:200]}") from None


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]
