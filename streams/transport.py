"""Faust's Kafka transport with a short consumer fetch wait and hooks before each offset commit.

Faust's aiokafka driver hard-codes ``fetch_max_wait_ms=1500``. A finding crosses four topics on its way to
a page (traces → series → findings → incidents), and on a quiet partition each hop can wait that long for
the broker to answer a fetch, so a page could take seconds. With a short wait an idle consumer asks more
often (a few tiny requests a second per partition) and a spike reaches PagerDuty in well under a second.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Iterable

import faust
from faust.exceptions import ProducerSendError
from faust.transport.drivers import aiokafka as faust_aiokafka

FETCH_MAX_WAIT_MS = 50
log = logging.getLogger(__name__)


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _commit_tps(self, tps: Iterable[Any], start_new_transaction: bool) -> bool:
        # Faust's own _commit_tps, with the app's before-commit hooks run between choosing the offsets
        # and committing them: state the hooks write then reflects at least every message up to those
        # offsets, so a committed offset is never ahead of the state that reflects it.
        commit_offsets = self._filter_committable_offsets(tps)
        for hook in self.app.before_commit:
            try:
                await hook()
            except Exception:  # noqa: BLE001 - not committing now is safe (messages are read again)
                log.exception("before-commit hook %r failed; offsets not committed", hook)
                return False
        if not commit_offsets:
            return False
        try:
            await self._handle_attached(commit_offsets)
        except ProducerSendError as exc:
            await self.crash(exc)
            return False
        return await self._commit_offsets(commit_offsets, start_new_transaction=start_new_transaction)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class App(faust.App):
    """``faust.App`` whose consumers use the short fetch wait (any ``kafka://`` broker).

    ``before_commit``: coroutine functions awaited before each offset commit, after the offsets to
    commit were chosen, e.g. to write the table entries that changed since the last commit once
    instead of on every change.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before_commit: list[Callable[[], Awaitable[None]]] = []

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
