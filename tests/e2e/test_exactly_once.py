"""kill -9 of the worker at many points while publishing: every event counted once in every series, the
same incidents and the same pages as an undisturbed run (docs/exactly-once.md).

Each test plays the same traffic twice on fresh embedded brokers with real ``tracewatch worker``
processes: once undisturbed, once with the worker killed (SIGKILL) and restarted at several points —
in mid-stream, while a restarted worker catches up (summaries held back), right after a flush to
``tracewatch.series`` and right after series snapshots reach the changelog (before their offsets are
committed). It then compares what the series counted (the budget detector's open daily window per user:
events and spend, from the latest snapshots in ``tracewatch-series-state-changelog``) with the traffic
itself and with the undisturbed run, the incidents (key → id) and the pages (dedup keys per incident).

``make test`` runs the short version (four kills); ``make soak`` the long one (many kills at random points,
``TRACEWATCH_SOAK_KILLS``, default 20) and kills aimed at named points of the way from a finding to a page
(incident → outbox, outbox → send, send → commit).

Once every event is counted, a run is compared only when the worker has finished every message of every
topic (``tracewatch_consumer_lag``) and the API shows every incident published: taking the incidents as
soon as there were any once lost the last ones (the injection campaign's rates) of a crashed run.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from streams.broker import EmbeddedBroker
from traces.events import TraceEvent
from traces.prices import PriceTable
from demo.standins import PagerDutyStandin, SlackStandin
from streams.topics import bootstrap_of
from tests.doubles.fixtures import TEST_ROUTING_KEY, TEST_SIGNING_SECRET, TEST_SLACK_TOKEN
from tests.e2e.test_scenarios import budget_env, publish  # noqa: F401 - budget_env is a fixture
from tests.helpers.service import WorkerProcess, consumer_lags, metric_value, read_topic, wait_for
from tests.helpers.traffic import four_scenarios

pytestmark = pytest.mark.e2e

CHANGELOG = "tracewatch-series-state-changelog"
BUDGET = "budget_user_daily|user_id="


def expected_counts(messages: list[bytes]) -> dict[str, int]:
    counts: Counter = Counter()
    for m in messages:
        user = orjson.loads(m).get("user_id")
        if user:
            counts[user] += 1
    return dict(counts)


def expected_spend(messages: list[bytes]) -> dict[str, float]:
    prices = PriceTable.load(None)
    spend: defaultdict = defaultdict(float)
    for m in messages:
        event = TraceEvent.model_validate_json(m)
        prices.apply(event)
        if event.user_id and event.cost_usd is not None:
            spend[event.user_id] += event.cost_usd
    return dict(spend)


def budget_totals(broker_url: str) -> dict[str, tuple[int, float]]:
    """Per user, the events and spend the budget series counted: its latest snapshot's open windows."""
    latest: dict[bytes, bytes] = {}
    for record in read_topic(broker_url, CHANGELOG, timeout=10):
        latest[record.key] = record.value
    out = {}
    for key, value in latest.items():
        if key.startswith(BUDGET.encode()):
            state = orjson.loads(value)
            windows = state["o"] or []
            out[key.decode()[len(BUDGET):]] = (sum(w.get("n", 0) for w in windows),
                                               sum(w.get("s", 0.0) for w in windows))
    return out


def topic_size(broker_url: str, topic: str) -> int:
    """The records in ``topic`` as the broker reports its ends (a mark for ``wait_for_write``)."""
    async def go() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_of(broker_url), enable_auto_commit=False)
        await consumer.start()
        try:
            from aiokafka.structs import TopicPartition

            await consumer.topics()
            tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            return sum((await consumer.end_offsets(tps)).values()) if tps else 0
        finally:
            await consumer.stop()

    return asyncio.run(go())


def wait_for_write(broker_url: str, topic: str, timeout: float = 60.0, since: int | None = None,
                   required: bool = True) -> bool:
    """Return as soon as ``topic`` grows (a flush, a snapshot), beyond ``since`` if given; ``False`` if it
    did not within ``timeout`` and the write is not ``required``."""
    async def go() -> bool:
        bootstrap = bootstrap_of(broker_url)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            from aiokafka.structs import TopicPartition

            deadline = time.monotonic() + timeout
            tps: list = []
            before = since
            while time.monotonic() < deadline:
                if not tps:
                    await consumer.topics()
                    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
                    if not tps:
                        await asyncio.sleep(0.05)
                        continue
                ends = sum((await consumer.end_offsets(tps)).values())
                if before is None:
                    before = ends
                elif ends > before:
                    return True
            if required:
                raise AssertionError(f"{topic} was not written to within {timeout}s")
            return False
        finally:
            await consumer.stop()

    return asyncio.run(go())


class Run:
    """One broker, one PagerDuty and Slack double, and the worker processes of one run."""

    def __init__(self, workdir: Path, test_ca, detectors_env: dict[str, str]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.broker = EmbeddedBroker(log_path=workdir / "broker.log").__enter__()
        self.pagerduty = PagerDutyStandin(test_ca.server_context(), routing_key=TEST_ROUTING_KEY).__enter__()
        self.slack = SlackStandin(test_ca.server_context(), token=TEST_SLACK_TOKEN).__enter__()
        self.env = {
            "TRACEWATCH_PAGERDUTY_ROUTING_KEY": TEST_ROUTING_KEY,
            "TRACEWATCH_PAGERDUTY_EVENTS_URL": self.pagerduty.url,
            "TRACEWATCH_SLACK_TOKEN": TEST_SLACK_TOKEN,
            "TRACEWATCH_SLACK_API_URL": self.slack.api_url,
            "TRACEWATCH_SLACK_SIGNING_SECRET": TEST_SIGNING_SECRET,
            "TRACEWATCH_CA_BUNDLE": str(test_ca.bundle),
            "TRACEWATCH_API_TOKEN": "t",
            **detectors_env,
        }
        self.workers: list[WorkerProcess] = []
        self.published = 0
        self.kills = 0

    def start(self) -> WorkerProcess:
        worker = WorkerProcess(self.broker.url, self.workdir, env_extra=self.env)
        self.workers.append(worker)
        return worker.start()

    def publish(self, messages: list[bytes]) -> None:
        publish(self.broker.bootstrap, messages)
        self.published += len(messages)

    def kill(self, worker: WorkerProcess) -> None:
        worker.kill()
        self.kills += 1

    def settle(self, worker: WorkerProcess, messages: list[bytes], timeout: float = 240.0) -> None:
        """Wait until the worker has read everything and the series have counted every event (failing at
        once if one counted more), then until every finding and incident record that follows from them
        has been handled."""
        want = expected_counts(messages)

        def handled(topics: tuple[str, ...]) -> bool:  # the agents of these topics finished every message
            lags = consumer_lags(worker.metrics(), topics)
            behind = {sample: lag for sample, lag in lags.items() if lag}
            if behind:  # reported if it never ends
                raise AssertionError(f"not finished: {behind}")
            return bool(lags)

        wait_for(lambda: handled(("tracewatch.traces", "tracewatch.series")), timeout=timeout,
                 message="the worker to read every trace and summary")
        deadline = time.monotonic() + 60
        while True:
            counted = {user: n for user, (n, _) in budget_totals(self.broker.url).items()}
            over = {u: (n, want.get(u)) for u, n in counted.items() if n > want.get(u, 0)}
            if over:
                sent = self.sent_to_series()
                raise AssertionError("events counted twice (user: counted, published, in the series topic): "
                                     f"{ {u: (n, w, sent.get(u)) for u, (n, w) in over.items()} }")
            if counted == want:
                break
            assert time.monotonic() < deadline, (
                f"events not counted (user: counted, published, in the series topic): "
                f"{ {u: (counted.get(u), want[u], sent.get(u)) for u in want if counted.get(u) != want[u]} }"
                if (sent := self.sent_to_series()) or True else "")
            time.sleep(0.5)
        # Every event counted: their summaries were all sent. Once nothing is left on any topic (the lag
        # counts what an agent has not finished; the worker flushes what it sent on before measuring), the
        # findings of the last summaries (the injection campaign's rates) have opened their incidents.
        wait_for(lambda: handled(("tracewatch.traces", "tracewatch.series", "tracewatch.findings",
                                  "tracewatch.incidents")),
                 timeout=timeout, message="the worker to handle every summary, finding and incident record")

    def sent_to_series(self) -> dict[str, int]:
        """Per user, the events in the budget summaries on tracewatch.series (for a failure's message)."""
        sent: Counter = Counter()
        records = read_topic(self.broker.url, "tracewatch.series", timeout=20)
        with open(self.workdir / "series-topic.jsonl", "wb") as dump:  # for the post-mortem
            for r in sorted(records, key=lambda r: (r.partition, r.offset)):
                dump.write(orjson.dumps({"p": r.partition, "o": r.offset, "ts": r.timestamp,
                                         "h": {k: v.decode() for k, v in r.headers or ()},
                                         "v": orjson.loads(r.value)}) + b"\n")
        for record in records:
            for item in orjson.loads(record.value):
                if item["k"].startswith(BUDGET):
                    sent[item["k"][len(BUDGET):]] += item["n"]
        return dict(sent)

    def incidents(self, worker: WorkerProcess) -> dict[str, str]:
        found = httpx.get(f"{worker.url}/v1/incidents", params={"limit": 1000}, timeout=5).json()["incidents"]
        return {i["key"]: i["id"] for i in found}

    def pages(self) -> dict[str, set[str]]:
        """Per dedup key, the event actions PagerDuty received."""
        out: dict[str, set[str]] = defaultdict(set)
        for event in self.pagerduty.events:
            out[event["dedup_key"]].add(event["event_action"])
        return dict(out)

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.slack.__exit__(None, None, None)
        self.pagerduty.__exit__(None, None, None)
        self.broker.__exit__(None, None, None)


def undisturbed(tmp_path: Path, test_ca, env: dict[str, str], messages: list[bytes]) -> dict:
    run = Run(tmp_path / "undisturbed", test_ca, env)
    try:
        worker = run.start()
        run.publish(messages)
        run.settle(worker, messages)
        return outcome(run, worker)
    finally:
        run.close()


def outcome(run: Run, worker: WorkerProcess) -> dict:
    # Every incident published (the run has settled) as the API shows it: the API's view is a mirror of
    # tracewatch.incidents that may be a moment behind the agents.
    published = {orjson.loads(r.value)["incident"]["key"] for r in read_topic(run.broker.url, "tracewatch.incidents")}
    incidents = wait_for(lambda: (found := run.incidents(worker)).keys() >= published and found,
                         timeout=60, message="the API to show every incident published")

    def steps_done() -> bool:  # no runbook step of any incident is on its way (queued, running, retrying)
        for incident_id in incidents.values():
            executions = httpx.get(f"{worker.url}/v1/incidents/{incident_id}", timeout=5).json()["executions"]
            if not executions:
                raise AssertionError(f"{incident_id} has no runbook execution yet")
            for execution in executions:
                for step in execution["steps"]:
                    if step["status"] in ("queued", "running", "retrying"):  # reported if it never ends
                        raise AssertionError(f"{incident_id}: {step['type']} is {step['status']}")
        return True

    wait_for(steps_done, timeout=120, message="every runbook step of every incident")
    return {"totals": budget_totals(run.broker.url), "incidents": incidents, "pages": run.pages()}


def crashed(tmp_path: Path, test_ca, env: dict[str, str], messages: list[bytes], kills: int,
            seed: int) -> tuple[dict, int]:
    """The same traffic, published in pieces while the worker is killed and restarted ``kills`` times.

    The kill points cycle through: mid-stream (after a random number of events), while a restarted
    worker catches up on what was published while it was down, right after a flush to the series
    topic, and right after series snapshots were written (before their offsets are committed).
    """
    rng = random.Random(seed)
    run = Run(tmp_path / "crashed", test_ca, env)
    try:
        cuts = sorted(rng.sample(range(1, len(messages)), kills))
        pieces = [messages[a:b] for a, b in zip([0] + cuts, cuts + [len(messages)])]
        worker = run.start()
        for i, piece in enumerate(pieces[:-1]):
            kind = ("mid-stream", "catching up", "after a flush", "after a snapshot")[i % 4]
            if kind == "catching up":  # published while down: the restarted worker has a backlog
                run.kill(worker)
                run.publish(piece)
                worker = run.start()
                start = metric_value(worker.metrics(), "tracewatch_events_total", 'outcome="ok"')
                wait_for(lambda: metric_value(worker.metrics(), "tracewatch_events_total", 'outcome="ok"')
                         > start + rng.randrange(1, 200), timeout=120, interval=0.02, message="catching up")
            else:
                run.publish(piece)
                if kind == "mid-stream":
                    wait_for(lambda: metric_value(worker.metrics(), "tracewatch_events_total", 'outcome="ok"')
                             >= rng.randrange(1, len(piece) + 1), timeout=120, interval=0.02,
                             message="part of the piece read")
                elif kind == "after a flush":
                    wait_for_write(run.broker.url, "tracewatch.series")
                else:
                    wait_for_write(run.broker.url, CHANGELOG)
            run.kill(worker)
            worker = run.start()
        run.publish(pieces[-1])
        run.settle(worker, messages)
        return outcome(run, worker), run.kills
    finally:
        run.close()


#: where a kill aimed at the way from a finding to a page lands, and what shows the worker got there
NAMED_POINTS = (("incident → outbox", "tracewatch.incidents"), ("outbox → send", "tracewatch.actions"),
                ("send → commit", None))


def named(tmp_path: Path, test_ca, env: dict[str, str], messages: list[bytes]) -> tuple[dict, int]:
    """The same traffic in two waves (up to the injection campaign, then the campaign), the worker killed in
    each wave at three named points of the way from a finding to a page: right after an incident record
    reached ``tracewatch.incidents`` (its execution maybe not yet in the outbox), right after an execution
    reached ``tracewatch.actions`` (its steps maybe not yet sent), and right after PagerDuty or Slack got a
    page or a post (maybe not yet recorded as done, the offsets not committed). A point the restarted
    worker does not reach within a minute (it had nothing left to do there) is passed over."""
    run = Run(tmp_path / "named", test_ca, env)

    def sent() -> int:
        return len(run.pagerduty.events) + len(run.slack.messages)

    try:
        first_attack = next(i for i, m in enumerate(messages) if orjson.loads(m)["user_id"].startswith("attacker-"))
        worker = run.start()
        for wave in (messages[:first_attack], messages[first_attack:]):
            marks = {topic: topic_size(run.broker.url, topic) for _, topic in NAMED_POINTS if topic}
            requests = sent()
            run.publish(wave)
            for point, topic in NAMED_POINTS:
                if topic is None:
                    deadline = time.monotonic() + 60
                    while not (reached := sent() > requests) and time.monotonic() < deadline:
                        time.sleep(0.005)
                else:
                    reached = wait_for_write(run.broker.url, topic, since=marks[topic], required=False)
                if not reached:
                    print(f"named kills: {point} not reached; no kill there")
                    continue
                run.kill(worker)
                marks = {topic: topic_size(run.broker.url, topic) for _, topic in NAMED_POINTS if topic}
                requests = sent()
                worker = run.start()
        run.settle(worker, messages)
        return outcome(run, worker), run.kills
    finally:
        run.close()


def compare(tmp_path, test_ca, env, messages, kills, seed) -> None:
    calm = undisturbed(tmp_path, test_ca, env, messages)
    got, killed = crashed(tmp_path, test_ca, env, messages, kills, seed)
    assert killed >= kills
    same_outcome(tmp_path, messages, calm, got)


def same_outcome(tmp_path: Path, messages: list[bytes], calm: dict, got: dict) -> None:
    (tmp_path / "outcomes.json").write_bytes(orjson.dumps(
        {"undisturbed": calm, "crashed": got}, default=lambda v: sorted(v), option=orjson.OPT_INDENT_2))
    want = expected_counts(messages)
    spend = expected_spend(messages)
    for totals in (calm["totals"], got["totals"]):
        assert {u: n for u, (n, _) in totals.items()} == want
        assert all(abs(s - spend[u]) < 1e-6 * max(1.0, spend[u]) for u, (_, s) in totals.items())
    assert set(got["incidents"]) == set(calm["incidents"]), "the crashed run has other incidents"
    # The same identity (and so the same dedup_key) for every incident, prompt injection included,
    # whichever of its findings arrived first.
    assert got["incidents"] == calm["incidents"]
    # The same pages: per incident, one dedup key, with the same actions (a repeat of a key is allowed).
    assert by_incident(got) == by_incident(calm)


def by_incident(outcome: dict) -> dict[str, list]:
    key_of = {incident_id: key for key, incident_id in outcome["incidents"].items()}
    out: dict[str, list] = defaultdict(list)
    for dedup_key, actions in outcome["pages"].items():
        out[key_of.get(dedup_key, f"unknown incident {dedup_key}")].append(sorted(actions))
    return dict(out)


@pytest.fixture
def spender_budget(budget_env):
    return budget_env


def test_kill_9_at_four_kinds_of_points_counts_every_event_once(tmp_path, test_ca, spender_budget):
    messages = four_scenarios(minutes=50)  # the spender's budget story and the latency regression
    seed = int(os.environ.get("TRACEWATCH_KILL_SEED", "13"))  # where the traffic is cut; another seed, other cuts
    compare(tmp_path, test_ca, spender_budget, messages, kills=4, seed=seed)


@pytest.mark.soak  # `make soak` runs it; `make test` deselects it (pyproject addopts)
def test_kill_9_at_named_points_gives_every_incident_its_runbook_once(tmp_path, test_ca, spender_budget):
    messages = four_scenarios(minutes=50)
    calm = undisturbed(tmp_path, test_ca, spender_budget, messages)
    got, killed = named(tmp_path, test_ca, spender_budget, messages)
    assert killed >= 1
    same_outcome(tmp_path, messages, calm, got)


@pytest.mark.soak  # long: `make soak` runs it; `make test` deselects it (pyproject addopts)
def test_soak_kill_9_at_random_points(tmp_path, test_ca, spender_budget):
    kills = int(os.environ.get("TRACEWATCH_SOAK_KILLS", "20"))
    seed = int(os.environ.get("TRACEWATCH_SOAK_SEED", str(random.randrange(1 << 30))))
    print(f"soak: {kills} kills, seed {seed}")
    compare(tmp_path, test_ca, spender_budget, four_scenarios(), kills, seed)
