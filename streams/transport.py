"""Faust's Kafka transport with a short consumer fetch wait.

Faust's aiokafka driver hard-codes ``fetch_max_wait_ms=1500``. A finding crosses four topics on its way to
a page (traces → series → findings → incidents), and on a quiet partition each hop can wait that long for
the broker to answer a fetch, so a page could take seconds. With a short wait an idle consumer asks more
often (a few tiny requests a second per partition) and a spike reaches PagerDuty in well under a second.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

FETCH_MAX_WAIT_MS = 50


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class App(faust.App):
    """``faust.App`` whose consumers use the short fetch wait (any ``kafka://`` broker)."""

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
