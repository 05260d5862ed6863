"""``tracewatch demo``: the whole product on one machine, playing five incidents over clean traffic.

Parts: the embedded broker (or ``TRACEWATCH_BROKER``), loopback stand-ins for PagerDuty and Slack
(HTTPS with a throwaway CA; the real services when ``TRACEWATCH_PAGERDUTY_ROUTING_KEY`` /
``TRACEWATCH_SLACK_TOKEN`` are set), one ``tracewatch worker`` subprocess, and the synthetic application
of :mod:`demo.traffic`, which publishes with aiokafka in compressed event time. The demo only
observes the product from outside — through its API (``/metrics``, ``/v1/incidents``,
``/v1/blocks/check``, ``/v1/prompts``, ``/v1/models/check``) and what the stand-ins received — and reports per scenario
whether it was detected and acted on.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from detectors.config import SHIPPED, DetectorConfig, enable, load_config, to_yaml
from demo.traffic import (ATTACKERS, END_MIN, LATENCY_MODEL, SCENARIOS, SURGE_PROMPT, UPDATE_MODEL, WHALE,
                          Scenario, SyntheticApp, sim_start)
from demo.standins import PagerDutyStandin, SlackStandin

TRACEWATCH = str(Path(sys.executable).with_name("tracewatch"))
#: detectors that are opt-in (``enabled: false``) in the shipped config and that the demo switches on for
#: its worker: the whale's spend is a per-user budget story (the cost-spike runbook blocks the user that a
#: budget finding names). Your own ``TRACEWATCH_DETECTORS`` is used as it is.
OPT_IN = ("budget_user_daily",)
KIND_OF = {"cost_spike": ("budget", "cost", "runaway"), "latency_regression": ("latency",),
           "hallucination_surge": ("quality",), "injection_campaign": ("injection",),
           "provider_model_update": ("model_update",)}


class OutboundSettings(Protocol):
    """What the demo reads of the service's settings: whether PagerDuty and Slack are the real ones."""

    pagerduty_routing_key: Any
    pagerduty_events_url: str
    slack_token: Any
    slack_api_url: str


@dataclass(frozen=True)
class Service:
    """How the demo reaches and starts the service it plays against. ``tracewatch demo``
    (streams/cli/demo.py) fills it in: the demo is the service's client and does not import streams/."""

    traces_topic: str  # where the synthetic application publishes
    bootstrap_of: Callable[[str], str]  # broker URL → aiokafka's bootstrap servers
    api_port: int  # a free loopback port for the worker's API
    worker_preexec: Callable[[], None]  # runs in the worker process before exec: it dies with the demo


@dataclass
class Outcome:
    """What happened to one scenario; the summary row."""

    scenario: str
    title: str
    expected: list[str]
    detected: bool = False
    incident_id: str | None = None
    incidents: int = 0
    detect_s: float | None = None  # wall seconds from the scenario's start to its first incident
    detect_sim_s: float | None = None  # the same in event time
    page: bool = False
    pages: int = 0  # incidents of this scenario that paged (one user can trip several detectors)
    slack: bool = False
    block: bool = False
    rollback: bool = False
    pin: bool = False
    # runbook steps seen on its incidents, "runbook/step: status (error)": why an expected action is missing
    steps: list[str] = field(default_factory=list)

    @property
    def handled(self) -> bool:
        return self.detected and all(getattr(self, action) for action in self.expected)


@dataclass
class Live:
    """What the terminal view shows; refreshed from the API about once a second."""

    phase: str = "starting"
    sim_minute: float = 0.0
    sent: int = 0
    events_per_s: float = 0.0
    events_read: float = 0.0
    findings: float = 0.0
    open_incidents: int = 0
    pages: int = 0
    slack_posts: int = 0
    lines: list[str] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)


def detector_config() -> DetectorConfig:
    """The detectors the demo's worker runs: the shipped config with ``OPT_IN`` switched on.

    >>> cfg = detector_config()
    >>> [d["name"] for d in cfg.detectors if d["kind"] == "budget" and d.get("enabled", True)]
    ['budget_user_daily']
    """
    return enable(load_config(SHIPPED), *OPT_IN)


def make_ca(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A throwaway CA (trustme): the stand-ins' server context, and a bundle the worker trusts
    (the public CAs too, so that a real PagerDuty or Slack next to a stand-in still verifies)."""
    import certifi
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    bundle = directory / "demo-ca.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + ca.cert_pem.bytes())
    return server, bundle


class Demo:
    def __init__(self, settings: OutboundSettings, service: Service, duration: float, speed: float,
                 seed: int = 7, on_update: Callable[[Live], None] | None = None, keep: bool = False) -> None:
        self.settings = settings
        self.service = service
        self.duration = duration
        self.speed = speed
        self.seed = seed
        self.on_update = on_update or (lambda live: None)
        self.live = Live(outcomes={s.name: Outcome(s.name, s.title, list(s.expect)) for s in SCENARIOS})
        self.pagerduty: PagerDutyStandin | None = None
        self.slack: SlackStandin | None = None
        self.worker: subprocess.Popen | None = None
        # the user's own token when set (they can type it in the console), else a throwaway never shown
        token = getattr(settings, "api_token", None)
        self.token = token.get_secret_value() if token is not None else secrets.token_urlsafe(24)
        self.keep = keep  # after the scenarios, keep the worker (and its console) up until Ctrl-C
        self.port = service.api_port
        self.api = f"http://127.0.0.1:{self.port}"
        self.notes: list[str] = []  # what the parts are, printed before the live view
        self.worker_pid: int | None = None
        self.paged: set[str] = set()  # incidents with a successful page step

    # -- parts ---------------------------------------------------------------------------------------
    def start_standins(self, stack: ExitStack, workdir: Path) -> dict[str, str]:
        env: dict[str, str] = {}
        server_ctx, bundle = make_ca(workdir)
        if self.settings.pagerduty_routing_key is None:
            key = secrets.token_hex(16)  # 32 characters, like a routing key
            self.pagerduty = stack.enter_context(PagerDutyStandin(server_ctx, routing_key=key))
            env.update(TRACEWATCH_PAGERDUTY_ROUTING_KEY=key, TRACEWATCH_PAGERDUTY_EVENTS_URL=self.pagerduty.url)
            self.notes.append(f"PagerDuty stand-in on {self.pagerduty.url}")
        else:
            self.notes.append(f"PagerDuty: the real service at {self.settings.pagerduty_events_url}")
        if self.settings.slack_token is None:
            token = "xoxb-demo-" + secrets.token_hex(12)
            self.slack = stack.enter_context(SlackStandin(server_ctx, token=token))
            env.update(TRACEWATCH_SLACK_TOKEN=token, TRACEWATCH_SLACK_API_URL=self.slack.api_url)
            self.notes.append(f"Slack stand-in on {self.slack.url}")
        else:
            self.notes.append(f"Slack: the real workspace at {self.settings.slack_api_url}")
        if self.pagerduty or self.slack:
            env["TRACEWATCH_CA_BUNDLE"] = str(bundle)
        return env

    def start_worker(self, stack: ExitStack, broker_url: str, workdir: Path, extra: dict[str, str]) -> None:
        env = dict(os.environ)
        env.update(extra)
        if not env.get("TRACEWATCH_DETECTORS"):
            config = workdir / "detectors.yaml"
            config.write_text(to_yaml(detector_config()), encoding="utf-8")
            env["TRACEWATCH_DETECTORS"] = str(config)
            self.notes.append(f"detectors: the shipped config with the opt-in {', '.join(OPT_IN)} on ({config})")
        else:
            self.notes.append(f"detectors: {env['TRACEWATCH_DETECTORS']} (TRACEWATCH_DETECTORS)")
        env.update({
            "TRACEWATCH_BROKER": broker_url, "TRACEWATCH_WEB_PORT": str(self.port),
            "TRACEWATCH_WEB_HOST": "127.0.0.1", "TRACEWATCH_API_URL": self.api,
            "TRACEWATCH_API_TOKEN": self.token, "TRACEWATCH_DATA_DIR": str(workdir / "data"),
            "PYTHONUNBUFFERED": "1",
        })
        env.setdefault("TRACEWATCH_CONSOLE_PUBLIC", "true")  # on loopback: the pages open without the token
        self.log_path = workdir / "worker.log"
        log = open(self.log_path, "wb")
        stack.callback(log.close)
        # Own process group (Ctrl-C reaches us, and we stop the worker in order); dies with us if killed.
        self.worker = subprocess.Popen([TRACEWATCH, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                       cwd=workdir, preexec_fn=self.service.worker_preexec)
        self.worker_pid = self.worker.pid
        stack.callback(self.stop_worker)
        self.notes.append(f"worker (pid {self.worker.pid}) with its API on {self.api}")
        act = ("type your TRACEWATCH_API_TOKEN there to act" if getattr(self.settings, "api_token", None)
               else "set TRACEWATCH_API_TOKEN before the demo to act from it")
        self.notes.append(f"console: {self.api}/ (open it in a browser; {act})")

    def stop_worker(self) -> None:
        proc, self.worker = self.worker, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def worker_log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- the run -------------------------------------------------------------------------------------
    def run(self, broker_url: str) -> dict[str, Outcome]:
        with ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tracewatch-demo-")))
            env = self.start_standins(stack, workdir)
            self.start_worker(stack, broker_url, workdir, env)
            asyncio.run(self._main(broker_url))
            if self.keep:
                self.wait_for_interrupt()
        return self.live.outcomes

    def wait_for_interrupt(self) -> None:
        """Keep the worker up, so the demo's incidents stay there to click, until Ctrl-C (or SIGTERM)."""
        self.live.phase = f"done: the console stays on {self.api}/ until Ctrl-C"
        self.say(f"console: {self.api}/ — Ctrl-C stops the worker, the stand-ins and the broker")
        self.on_update(self.live)
        try:
            while self.worker is not None and self.worker.poll() is None:
                time.sleep(1.0)
        except KeyboardInterrupt:
            pass

    async def _main(self, broker_url: str) -> None:
        deadline = time.monotonic() + self.duration
        async with httpx.AsyncClient(base_url=self.api, timeout=5,
                                     headers={"Authorization": f"Bearer {self.token}"}) as client:
            self.live.phase = "waiting for the worker"
            self.on_update(self.live)
            await self._wait_healthy(client, deadline)
            await self._register_prompts(client)
            producer = AIOKafkaProducer(bootstrap_servers=self.service.bootstrap_of(broker_url), linger_ms=20,
                                        acks=1, value_serializer=orjson.dumps)
            await producer.start()
            try:
                await self._play(client, producer, deadline)
            finally:
                await producer.stop()

    async def _wait_healthy(self, client: httpx.AsyncClient, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.worker is None or self.worker.poll() is not None:
                raise DemoError(f"the worker exited; its log:\n{self.worker_log_tail()}")
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
        raise DemoError(f"the worker was not healthy in time; its log:\n{self.worker_log_tail()}")

    async def _register_prompts(self, client: httpx.AsyncClient) -> None:
        path = f"/v1/prompts/{SURGE_PROMPT}"
        for version in ("3", "4"):
            r = await client.post(f"{path}/versions", json={"version": version, "by": "demo",
                                                            "template": f"support-chat template v{version}"})
            if r.status_code not in (200, 409):  # 409: registered by an earlier demo on this broker
                raise DemoError(f"registering {SURGE_PROMPT} v{version}: {r.status_code} {r.text}")
        r = await client.post(f"{path}/promote", json={"version": "3", "by": "demo", "reason": "baseline"})
        if r.status_code != 200:
            raise DemoError(f"promoting {SURGE_PROMPT} v3: {r.status_code} {r.text}")
        self.say(f"registered prompt {SURGE_PROMPT} versions 3 and 4; production → 3")

    def say(self, line: str) -> None:
        self.live.lines.append(f"{time.strftime('%H:%M:%S')}  {line}")
        del self.live.lines[:-12]

    async def _play(self, client: httpx.AsyncClient, producer: AIOKafkaProducer, deadline: float) -> None:
        span = END_MIN * 60
        wall0 = time.monotonic()
        start = sim_start(time.time(), span)
        app = SyntheticApp(start=start, seed=self.seed)
        self.started = {s.name: None for s in SCENARIOS}  # wall time each scenario began
        self.sim0 = start
        last_poll = 0.0
        rate_window: list[tuple[float, int]] = []
        surge_promoted = False
        while True:
            now = time.monotonic()
            sim = start + (now - wall0) * self.speed
            if now >= deadline:
                self.live.phase = "time is up"
                break
            if self._all_handled() and all(self.started.values()):
                self.live.phase = "all five scenarios handled"
                break
            if sim >= start + span + 300 and all(o.detected for o in self.live.outcomes.values()):
                self.live.phase = "traffic over; waiting for actions"
            for s in SCENARIOS:
                if self.started[s.name] is None and sim >= start + s.start_s:
                    self.started[s.name] = now
                    self.say(f"[bold]scenario[/bold] {s.title} begins")
                    if s.name == "hallucination_surge" and not surge_promoted:
                        surge_promoted = True
                        r = await client.post(f"/v1/prompts/{SURGE_PROMPT}/promote",
                                              json={"version": "4", "by": "demo", "reason": "new prompt"})
                        if r.status_code == 200:
                            app.production_version = "4"
                            self.say(f"promoted {SURGE_PROMPT} v4 to production")
            if sim < start + span:
                events = app.events_until(sim)
                for event in events:
                    await producer.send(self.service.traces_topic, event)
                self.live.sent += len(events)
                rate_window.append((now, self.live.sent))
                rate_window = [(t, n) for t, n in rate_window if now - t <= 3]
                if len(rate_window) > 1 and rate_window[-1][0] > rate_window[0][0]:
                    self.live.events_per_s = ((rate_window[-1][1] - rate_window[0][1])
                                              / (rate_window[-1][0] - rate_window[0][0]))
            else:
                self.live.events_per_s = 0.0
            self.live.sim_minute = (sim - start) / 60
            if now - last_poll >= 1.0:
                last_poll = now
                await self._observe(client, app)
                if self.live.phase.startswith("waiting") or self.live.phase == "starting":
                    self.live.phase = "playing"
                self.on_update(self.live)
            if self.worker is None or self.worker.poll() is not None:
                raise DemoError(f"the worker exited; its log:\n{self.worker_log_tail()}")
            await asyncio.sleep(0.1)
        await self._observe(client, app)
        self.on_update(self.live)

    def _all_handled(self) -> bool:
        return all(o.handled for o in self.live.outcomes.values())

    # -- observing the product from outside ----------------------------------------------------------
    async def _observe(self, client: httpx.AsyncClient, app: SyntheticApp) -> None:
        try:
            metrics = (await client.get("/metrics")).text
            incidents = (await client.get("/v1/incidents", params={"limit": 500})).json()["incidents"]
        except (httpx.HTTPError, ValueError, KeyError):
            return
        self.live.events_read = _metric_sum(metrics, "tracewatch_events_total", 'outcome="ok"')
        self.live.findings = _metric_sum(metrics, "tracewatch_findings_total")
        self.live.open_incidents = sum(1 for i in incidents if i["state"] != "resolved")
        if self.pagerduty is not None:
            self.live.pages = len(self.pagerduty.events)
        if self.slack is not None:
            self.live.slack_posts = len(self.slack.messages)
        for s in SCENARIOS:
            await self._judge(client, s, incidents, app)

    async def _judge(self, client: httpx.AsyncClient, s: Scenario, incidents: list[dict], app: SyntheticApp) -> None:
        out = self.live.outcomes[s.name]
        began = self.started.get(s.name)
        if began is None:
            return
        mine = [i for i in incidents if i["kind"] in KIND_OF[s.name]
                and i["opened_at"] >= self.sim0 + s.start_s - 60 and _belongs(s, i)]
        out.incidents = len(mine)
        if not mine:
            return
        first = min(mine, key=lambda i: i["opened_at"])
        if not out.detected:
            out.detected = True
            out.incident_id = first["id"]
            out.detect_s = round(time.monotonic() - began, 1)
            out.detect_sim_s = round(first["opened_at"] - (self.sim0 + s.start_s), 1)
            self.say(f"[yellow]incident[/yellow] {first['id']} {first['kind']}: {first['summary'][:70]}")
        for incident in mine:
            # Keep reading an incident's executions until the scenario is handled: a poll between two
            # steps would otherwise never see the later one, and the steps seen say why it is not.
            if incident["id"] not in self.paged or not out.handled:
                await self._actions_of(client, s, out, incident["id"])
        out.pages = sum(1 for i in mine if i["id"] in self.paged)
        if "block" in s.expect and not out.block:
            subjects = [WHALE] if s.name == "cost_spike" else ATTACKERS
            for user in subjects:
                r = await client.get("/v1/blocks/check", params={"user_id": user})
                if r.status_code == 200 and r.json().get("blocked"):
                    out.block = True
                    self.say(f"[red]blocked[/red] user {user} (visible at /v1/blocks/check)")
                    break
        if "rollback" in s.expect and not out.rollback:
            r = await client.get(f"/v1/prompts/{SURGE_PROMPT}")
            if r.status_code == 200:
                record = r.json()
                production = record.get("labels", {}).get("production")
                by_runbook = any(m.get("kind") == "rollback" and m.get("by") != "demo" and m.get("to_version") == "3"
                                 for m in record.get("history", []))
                if production == "3" and by_runbook:
                    out.rollback = True
                    app.production_version = "3"  # the application serves what production names
                    self.say(f"[green]rolled back[/green] {SURGE_PROMPT}: production → 3")
        if "pin" in s.expect and not out.pin:
            r = await client.get("/v1/models/check", params={"model": UPDATE_MODEL})
            pin = r.json().get("pin") if r.status_code == 200 else None
            if pin and str(pin.get("created_by", "")).startswith("runbook:"):  # pinned back, not by the demo
                out.pin = True
                app.pins[UPDATE_MODEL] = pin["use"]  # the application requests what the check names
                self.say(f"[green]pinned[/green] {UPDATE_MODEL} back to {pin['use']} (/v1/models/check)")

    async def _actions_of(self, client: httpx.AsyncClient, s: Scenario, out: Outcome, incident_id: str) -> None:
        try:
            detail = (await client.get(f"/v1/incidents/{incident_id}")).json()
        except (httpx.HTTPError, ValueError):
            return
        for execution in detail.get("executions", []):
            for step in execution.get("steps", []):
                name = f"{execution.get('runbook')}/{step.get('index')} {step.get('name') or step.get('type')}: "
                out.steps = [seen for seen in out.steps if not seen.startswith(name)]  # the latest status
                out.steps.append(name + str(step.get("status")) + (f" ({step['error']})" if step.get("error") else ""))
                if step.get("status") != "ok":
                    continue
                if step.get("type") == "page" and incident_id not in self.paged:
                    self.paged.add(incident_id)
                    out.page = True
                    self.say(f"[magenta]paged[/magenta] on-call for {incident_id} ({execution.get('runbook')})")
                if step.get("type") == "slack" and not out.slack:
                    out.slack = True
                    self.say(f"[cyan]posted[/cyan] to Slack about {incident_id}")


def _belongs(s: Scenario, incident: dict[str, Any]) -> bool:
    target = incident.get("target", {})
    if s.name == "cost_spike":
        return target.get("user_id") == WHALE or target.get("model") == "gpt-4o" or "whale" in incident["series"]
    if s.name == "latency_regression":
        return target.get("model") == LATENCY_MODEL or LATENCY_MODEL in incident["series"]
    if s.name == "hallucination_surge":
        return target.get("prompt_id") == SURGE_PROMPT or SURGE_PROMPT in incident["series"]
    if s.name == "provider_model_update":
        return target.get("model") == UPDATE_MODEL
    return target.get("user_id") in ATTACKERS or any(a in incident["series"] for a in ATTACKERS)


def _metric_sum(text: str, name: str, labels: str = "") -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (not labels or labels in line) and not line.startswith("#"):
            head = line.split(" ", 1)[0]
            if head == name or head.startswith(name + "{"):
                try:
                    total += float(line.rsplit(" ", 1)[-1])
                except ValueError:
                    pass
    return total


class DemoError(RuntimeError):
    pass


def summary_rows(outcomes: dict[str, Outcome]) -> list[dict[str, Any]]:
    return [{**asdict(o), "handled": o.handled} for o in outcomes.values()]
