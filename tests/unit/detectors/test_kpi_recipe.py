"""docs/detectors.md "Watching a KPI of your own", as written: its script turns a CSV export into events and its
config, through the real ``tracewatch replay``, pages the one spike in nine days of a noisy daily cycle, and
nothing else."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).parents[3] / "docs" / "detectors.md"
START = 1_700_006_400  # 2023-11-15 00:00 UTC
SPIKE_ROW = 8 * 1440 + 600  # day 8, 10:00


def recipe() -> tuple[str, str]:
    """The recipe's Python script and YAML config, from the doc."""
    text = DOC.read_text()
    section = text[text.index("**Watching a KPI of your own**"):]
    script = section.split("```python\n", 1)[1].split("```", 1)[0]
    config = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    return script, config


def kpi_csv(path: Path) -> None:
    """Nine days of one-minute points: a daily cycle of +-30 % around 200 with 3 % noise, one point at 3 times."""
    rng = random.Random(7)
    lines = ["timestamp,value"]
    for i in range(9 * 1440):
        value = 200 * (1 + 0.3 * math.sin(2 * math.pi * i / 1440)) * (1 + 0.03 * rng.gauss(0, 1))
        if i == SPIKE_ROW:
            value *= 3
        lines.append(f"{START + 60 * i},{value:.3f}")
    path.write_text("\n".join(lines) + "\n")


def test_the_documented_kpi_recipe_pages_the_spike_and_nothing_else(tmp_path):
    script, config = recipe()
    (tmp_path / "kpi_events.py").write_text(script)
    (tmp_path / "kpi.yaml").write_text(config)
    kpi_csv(tmp_path / "checkout_rps.csv")
    with open(tmp_path / "checkout_rps.csv") as src, open(tmp_path / "checkout_rps.jsonl", "w") as out:
        subprocess.run([sys.executable, str(tmp_path / "kpi_events.py"), "checkout_rps"], stdin=src, stdout=out,
                       check=True, timeout=120)
    tracewatch = Path(sys.executable).with_name("tracewatch")
    done = subprocess.run([str(tracewatch), "replay", str(tmp_path / "checkout_rps.jsonl"), "--config",
                           str(tmp_path / "kpi.yaml")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"events: {9 * 1440}" in done.stderr and "bad lines: 0" in done.stderr, done.stderr
    findings = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(f["detector"], f["series"]) for f in findings] == [("kpi", "feature=checkout_rps")], findings
    assert START + 60 * SPIKE_ROW <= findings[0]["time"] < START + 60 * (SPIKE_ROW + 2)
