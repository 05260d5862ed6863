"""Runbooks: incident events in, actions out, through the runbook engine (``runbooks/engine.py``).

The engine writes each execution to ``tracewatch.actions`` before any side effect (the outbox) and
again after every attempt. Every worker mirrors that topic, so after a crash or a rebalance the worker
that now owns an incident finds its unfinished executions there and resumes them: steps that already
succeeded (a page, a Slack post) are not repeated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from aiokafka.partitioner import DefaultPartitioner

from runbooks.actions.base import ActionContext
from runbooks.actions.slack import SlackParams
from runbooks.engine import Engine
from runbooks.execution import DONE_EXECUTION, Execution, StepState
from runbooks.ports import Ports
from runbooks.templating import escape_slack
from streams.records import RecordError, read_incident_value
from streams import topics
from streams.deadletter import dead_letter

if TYPE_CHECKING:
    from streams.app import Tracewatch

log = logging.getLogger(__name__)
RESUME_GRACE_S = 3.0


class TopicOutbox:
    """The engine's outbox on ``tracewatch.actions`` (keyed by incident key, like the incidents)."""

    def __init__(self, tw: "Tracewatch") -> None:
        self.tw = tw
        self._written: dict[str, Execution] = {}  # this worker's writes, before the mirror has them

    async def write(self, record: Execution) -> None:
        self._written[record.execution_id] = record.model_copy(deep=True)
        # Wait for the broker's ack: a step must be on record as started before its side effect runs,
        # and as done before the next one, or a crash in between would repeat it.
        delivery = await self.tw.actions.send(key=record.incident_key.encode(),
                                              value=record.model_dump_json().encode())
        await delivery
        if len(self._written) > 10_000:
            self._written.pop(next(iter(self._written)))

    def get(self, execution_id: str) -> Execution | None:
        if execution_id in self._written:
            return self._written[execution_id].model_copy(deep=True)
        raw = self.tw.view.executions.get(execution_id)
        return Execution.model_validate(raw) if raw is not None else None


def build_engine(tw: "Tracewatch") -> Engine:
    from runbooks.actions import build_actions
    from runbooks.loader import load_runbooks

    async def incident_state(incident_id: str):  # noqa: ANN202
        return tw.view.get(incident_id)

    def on_attempt(execution: Execution, attempt) -> None:  # noqa: ANN001
        tw.metrics.actions.labels(attempt.type, attempt.outcome).inc()

    async def resolve_incident(key: str, by: str) -> None:
        await tw.send_command("resolve", key, by=by, time=time.time())

    ports = Ports(clock=tw.clock, controls=tw.controls_state, prompts=tw.prompt_registry,
                  incident_state=incident_state, resolve_incident=resolve_incident, api_url=tw.settings.web_url)
    actions = build_actions(tw.settings)

    async def on_delivery_failed(execution: Execution, step: StepState) -> None:
        tw.metrics.deliveries_failed.labels(step.type).inc()
        log.warning("gave up delivering step %s (%s) of %s for incident %s after %d attempts", step.index,
                    step.type, execution.execution_id, execution.incident_id, step.attempts)
        if step.type != "slack" and tw.settings.slack_token is not None:
            await actions["slack"].execute(SlackParams(text=delivery_failed_text(execution, step), blocks=False),
                                           fallback_context(execution, step, ports))

    return Engine(load_runbooks(tw.settings.runbooks), actions, ports, TopicOutbox(tw), on_attempt=on_attempt,
                  on_delivery_failed=on_delivery_failed, delivery_deadline_s=tw.settings.delivery_deadline_s,
                  max_delivery_backoff_s=tw.settings.delivery_max_backoff_s)


def delivery_failed_text(execution: Execution, step: StepState) -> str:
    """The Slack fallback's words; every value from the incident or the error escaped."""
    return (f":warning: tracewatch could not deliver the `{escape_slack(step.type)}` step of runbook "
            f"`{escape_slack(execution.runbook)}` for incident {escape_slack(execution.incident_id)} after "
            f"{step.attempts} attempts: {escape_slack(step.error or 'unknown error')[:500]}")


def fallback_context(execution: Execution, step: StepState, ports: Ports) -> ActionContext:
    incident = execution.trigger.incident
    return ActionContext(incident=incident, event=execution.trigger, execution_id=execution.execution_id,
                         idempotency_key=f"{execution.execution_id}:{step.index}:fallback",
                         render=lambda text, escape: text, ports=ports)


def register(tw: "Tracewatch") -> None:
    engine = build_engine(tw)
    tw.engine = engine
    pipeline = tw.pipeline  # this agent drives its runbooks stage
    pipeline.engine = engine
    actions_mirror = next(m for m in tw.mirrors if m.topic == topics.ACTIONS)
    partitioner = DefaultPartitioner()

    def owned(execution: Execution) -> bool:
        consumer = tw.app.consumer
        assigned = {tp.partition for tp in consumer.assignment() if tp.topic == topics.INCIDENTS}
        all_partitions = list(range(tw.settings.partitions))
        return partitioner(execution.incident_key.encode(), all_partitions, all_partitions) in assigned

    # The engine learns throttles and caps from every execution on record as the mirror reads it, so a
    # restarted worker knows them before it runs anything (the agent waits for the mirror to catch up).
    tw.view.action_listeners.append(engine.learn)

    def unfinished() -> list[Execution]:
        """The executions on record not yet done, oldest first."""
        return sorted((Execution.model_validate(raw) for raw in list(tw.view.executions.values())
                       if raw.get("status") not in DONE_EXECUTION), key=lambda e: e.created_at)

    async def resume_unfinished() -> None:
        """Resume the executions of the incidents this worker owns now that nobody is running.

        A step updated moments ago may still be finishing on the worker that owned it before the
        rebalance; such executions are looked at again once they have been quiet for a few seconds.
        """
        await actions_mirror.caught_up.wait()
        while True:
            later = False
            # Oldest first: each incident's notifications are queued again in the order they were due.
            for execution in unfinished():
                if not owned(execution) or engine.is_running(execution.execution_id):
                    continue
                if time.time() - execution.updated_at < RESUME_GRACE_S:
                    later = True
                    continue
                log.info("resuming execution %s of %s", execution.execution_id, execution.runbook)
                await engine.resume(execution)
            if not later:
                return
            await asyncio.sleep(RESUME_GRACE_S)

    @tw.app.on_partitions_revoked.connect
    async def _hand_over(sender: object, revoked: object, **kwargs: object) -> None:
        # Executions waiting in the background (wait_for_ack) stop here; whoever owns their incident
        # after the rebalance resumes them from tracewatch.actions, so none runs twice.
        engine.hand_over()

    @tw.app.on_before_shutdown.connect
    async def _stop_sends(sender: object, **kwargs: object) -> None:
        # Faust sends this after the agents stop and before the producer flushes and stops: the sends
        # under way can still record their outcome. Half the stop deadline leaves the rest for the flush.
        await engine.stop(tw.settings.stop_timeout_s / 2)

    @tw.app.on_rebalance_complete.connect
    async def _take_over(sender: object, **kwargs: object) -> None:
        asyncio.ensure_future(resume_unfinished())

    @tw.app.agent(tw.incidents, name="tracewatch.runbooks")
    async def runbook_agent(stream):  # noqa: ANN001 - Faust stream
        await actions_mirror.caught_up.wait()  # know what already ran before running anything
        async for message in tw.app.in_order(stream):
            try:
                event = read_incident_value(message.value).runbook_event()
            except RecordError as exc:
                await dead_letter(tw, message.topic, message.partition, message.offset, message.value or b"",
                                  str(exc))
                continue
            if event is None:
                continue
            try:
                await pipeline.respond(event)
            except Exception:  # noqa: BLE001 - a runbook bug must not stop the worker; it is logged
                log.exception("runbooks failed for incident %s", event.incident.id)
