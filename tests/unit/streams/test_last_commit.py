"""The last commit, at stop, is the worker's own: Faust's ``commit()`` commits nothing while another commit is in
flight (it waits for that one and returns), and the periodic commit in flight at stop chose its offsets before the
last events were handled: a worker stopped with SIGTERM kept positions behind events it had handled."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from streams import transport


def consumer(committed: list) -> transport._Consumer:
    """Faust's own ``commit()`` on a consumer whose ``force_commit`` records what it would commit."""
    c = object.__new__(transport._Consumer)
    c.app = SimpleNamespace(client_only=False)
    c._commit_fut = None

    async def force_commit(topics=None, start_new_transaction=True) -> bool:
        committed.append(start_new_transaction)
        return True

    c.force_commit = force_commit
    return c


async def test_the_last_commit_waits_for_the_one_in_flight_then_commits():
    committed: list = []
    c = consumer(committed)
    c.loop = asyncio.get_running_loop()
    in_flight = c.loop.create_future()
    c._commit_fut = in_flight  # the periodic commit, its offsets chosen before the last events
    stopping = asyncio.ensure_future(c.commit_and_end_transactions())
    for _ in range(5):
        await asyncio.sleep(0)
    assert committed == [] and not stopping.done()  # it waits for the one in flight
    c._commit_fut = None  # the periodic commit is done (as Faust's commit() clears it, then notifies)
    in_flight.set_result(None)
    await asyncio.wait_for(stopping, timeout=60)
    assert committed == [False]  # then commits, ending the transaction


async def test_the_last_commit_with_none_in_flight_commits_at_once():
    committed: list = []
    c = consumer(committed)
    c.loop = asyncio.get_running_loop()
    await asyncio.wait_for(c.commit_and_end_transactions(), timeout=60)
    assert committed == [False]
