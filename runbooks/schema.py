"""The runbook schema: pydantic models, strict (unknown keys are errors), one runbook per YAML file.

The reference of every key is ``docs/runbooks.md``; ``runbooks/library/README.md`` is a fully
commented example. Error messages live in ``yamlconf.MESSAGES`` (one table for every config).

>>> rb = Runbook.model_validate({
...     "name": "cost-spike", "trigger": {"kind": "cost", "severity_at_least": "warning"},
...     "steps": [{"block": {"target": "user", "ttl": "2h"}, "when": "evidence.observed > 10"}],
... })
>>> rb.steps[0].type, rb.steps[0].params.ttl, str(rb.steps[0].when), rb.trigger.on
('block', 7200.0, 'evidence.observed > 10', ['opened'])
"""

from __future__ import annotations

from typing import Any, Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from detectors.finding import Evidence, Severity, Target
from incidents.incident import IncidentEventType
from runbooks.actions import ACTION_TYPES
from runbooks.actions.base import StepParams
from runbooks.conditions import Condition
from runbooks.durations import Duration
from yamlconf import MESSAGES, hint, type_name

#: Every step type the language knows; an action module registers the ones it implements.
STEP_TYPES = (
    "page", "resolve_page", "slack", "block", "unblock", "rollback_prompt", "promote_prompt",
    "pin_model", "unpin_model", "webhook", "wait_for_ack",
)
#: Keys every step may carry next to its one action key.
STEP_COMMON_KEYS = ("name", "when", "on_failure", "retries")
#: Detector families (``Finding.kind``).
KINDS = ("cost", "budget", "runaway", "latency", "errors", "quality", "injection", "anomaly", "model_update")


def error(kind: str, **ctx: Any) -> PydanticCustomError:
    """A validation error whose type is the ``MESSAGES`` key (the loader reads it back by that key)."""
    return PydanticCustomError(kind, MESSAGES[kind], ctx)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


_QUIET = re2.Options()
_QUIET.log_errors = False  # the error goes into the lint message, not to stderr


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class LabelMatcher(Strict):
    """``value`` (equality), or a mapping with one of ``!=``, ``=~``, ``!~``, ``in``, ``not_in``.

    Regexes are RE2 (linear time), anchored at both ends like Prometheus matchers.
    """

    equals: str | None = None
    not_equals: str | None = Field(None, alias="!=")
    regex: str | None = Field(None, alias="=~")
    not_regex: str | None = Field(None, alias="!~")
    in_: list[str] | None = Field(None, alias="in")
    not_in: list[str] | None = None
    _compiled: Any = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _scalar(cls, value: Any) -> Any:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return {"equals": str(value)}
        return value

    @field_validator("regex", "not_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re2.compile(value, _QUIET)
            except re2.error as exc:
                reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
                raise error("regex", pattern=value, error=reason) from None
        return value

    @model_validator(mode="after")
    def _one(self) -> LabelMatcher:
        found = [f.alias or n for n, f in type(self).model_fields.items() if getattr(self, n) is not None]
        if len(found) != 1:
            allowed = "a value, !=, =~, !~, in, not_in"
            raise error("matcher_one", allowed=allowed, found=", ".join(found) or "nothing")
        pattern = self.regex if self.regex is not None else self.not_regex
        if pattern is not None:
            self._compiled = re2.compile(pattern)
        return self

    def matches(self, value: str | None) -> bool:
        if self.equals is not None:
            return value == self.equals
        if self.not_equals is not None:
            return value != self.not_equals
        if self.in_ is not None:
            return value in self.in_
        if self.not_in is not None:
            return value not in self.not_in
        hit = value is not None and self._compiled.fullmatch(value) is not None
        return hit if self.regex is not None else not hit


class Trigger(Strict):
    on: list[IncidentEventType] = Field(default_factory=lambda: ["opened"], min_length=1)
    detector: list[str] | None = None
    kind: list[str] | None = None
    severity_at_least: Severity = "info"
    labels: dict[str, LabelMatcher] = Field(default_factory=dict)
    when: Condition | None = None

    _lists = field_validator("on", "detector", "kind", mode="before")(_as_list)

    @field_validator("kind")
    @classmethod
    def _kinds(cls, kinds: list[str] | None) -> list[str] | None:
        for k in kinds or []:
            if k not in KINDS:
                raise error("unknown", what="kind", value=k, hint=hint(k, KINDS))
        return kinds


def params_model(step_type: str) -> type[StepParams]:
    if step_type == "wait_for_ack":
        return WaitForAckParams
    return ACTION_TYPES[step_type].Params


class Step(Strict):
    """One step: exactly one action key (``page:``, ``block:``, ...) plus the common keys."""

    type: str
    params: Any = None
    name: str | None = None
    when: Condition | None = None
    on_failure: Literal["continue", "abort"] = "continue"
    retries: int = Field(2, ge=0, le=10)

    @model_validator(mode="before")
    @classmethod
    def _split(cls, raw: Any) -> Any:
        if isinstance(raw, Step) or (isinstance(raw, dict) and "type" in raw and "params" in raw):
            return raw
        if isinstance(raw, str) and raw in STEP_TYPES:
            raw = {raw: None}  # `- resolve_page` alone
        if not isinstance(raw, dict):
            raise error("step_not_mapping", got=type_name(raw))
        actions = [k for k in raw if k not in STEP_COMMON_KEYS]
        known = [k for k in actions if k in STEP_TYPES]
        if not actions:
            raise error("step_no_action", allowed=", ".join(STEP_TYPES))
        if len(known) > 1:
            raise error("step_many_actions", found=", ".join(known))
        key = known[0] if known else actions[0]
        out = {k: v for k, v in raw.items() if k != key}
        out.update(type=key, params={} if raw[key] is None else raw[key])
        return out

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value not in STEP_TYPES:
            raise error("unknown", what="step", value=value, hint=hint(value, STEP_TYPES))
        if value != "wait_for_ack" and value not in ACTION_TYPES:
            raise error("step_unavailable", value=value)
        return value

    @field_validator("params")
    @classmethod
    def _params(cls, value: Any, info: ValidationInfo) -> Any:
        step_type = info.data.get("type")
        if step_type is None:
            return value  # the type's own error is reported
        if isinstance(value, StepParams):
            return value
        return params_model(step_type).model_validate(value)

    @property
    def label(self) -> str:
        return self.name or self.type


class WaitForAckParams(StepParams):
    """Wait until the incident is acknowledged or resolved, at most ``timeout``.

    On timeout the ``escalate`` steps run; either way the execution then goes on with the next step.
    """

    timeout: Duration
    escalate: list[Step] = Field(default_factory=list)


class Throttle(Strict):
    min_interval: Duration | None = None  # per incident key (detector|series)
    cooldown: Duration | None = None  # after that key's incident resolved, no new run this long


class IncidentSpec(Strict):
    """An incident for a runbook test, written short: everything has a default."""

    detector: str = "test_detector"
    kind: str = "anomaly"
    series: str = "test"
    severity: Severity = "warning"
    score: float = 1.0
    summary: str = ""
    state: Literal["open", "acknowledged", "resolved"] = "open"
    labels: dict[str, str] = Field(default_factory=dict)
    target: Target = Field(default_factory=Target)
    evidence: Evidence = Field(default_factory=Evidence)


class ExpectedAction(BaseModel):
    """``{type: page, severity: critical}``: the type and a subset of the step's rendered params."""

    model_config = ConfigDict(extra="allow")
    type: str

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value not in STEP_TYPES or value == "wait_for_ack":
            raise error("unknown", what="step", value=value, hint=hint(value, STEP_TYPES[:-1]))
        return value

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class RunbookTest(Strict):
    name: str
    event: IncidentEventType = "opened"
    incident: IncidentSpec | None = None
    findings: list[IncidentSpec] | None = Field(None, min_length=1)  # grouped into one incident
    prompts: dict[str, list[str]] = Field(default_factory=dict)  # prompt_id → production history
    ack_after: Duration | None = None
    resolve_after: Duration | None = None
    expect: list[ExpectedAction]

    @model_validator(mode="after")
    def _input(self) -> RunbookTest:
        if (self.incident is None) == (self.findings is None):
            raise error("test_input")
        return self


class Runbook(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    owner: str = ""
    trigger: Trigger
    steps: list[Step] = Field(min_length=1)
    throttle: Throttle = Field(default_factory=Throttle)
    max_destructive_per_hour: int | None = Field(10, ge=0)  # null: no cap
    tests: list[RunbookTest] = Field(default_factory=list)
    _source: str = PrivateAttr("")  # "file.yaml", set by the loader

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re2.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
            raise error("name_pattern", input=value)
        return value

    @property
    def source(self) -> str:
        return self._source

    def all_steps(self) -> list[tuple[str, Step]]:
        """Every step with its index path ("0", "2", "2.escalate.0"), in order."""
        out: list[tuple[str, Step]] = []

        def walk(steps: list[Step], prefix: str) -> None:
            for i, step in enumerate(steps):
                index = f"{prefix}{i}"
                out.append((index, step))
                if step.type == "wait_for_ack":
                    walk(step.params.escalate, f"{index}.escalate.")

        walk(self.steps, "")
        return out


WaitForAckParams.model_rebuild()
Step.model_rebuild()
