"""``python -m bench`` (``make bench``): throughput, detection latency, memory, the detector core, detection
quality and injection, measured in one run; prints a table and writes ``bench/results.json``.

    .venv/bin/python -m bench                       # everything, a few minutes on 2 cores
    .venv/bin/python -m bench --quick               # smaller sizes
    .venv/bin/python -m bench --only throughput,latency
    .venv/bin/python -m bench --profile             # pyinstrument: ingest in process, then the whole worker

Sections: throughput, latency, memory, replay, detection, nab (the Numenta Anomaly Benchmark), injection, durability,
console (the on-call console in Chromium: 10,000 incidents listed, a day of one-minute points plotted). Every throughput figure is also a
ratio against baselines measured in the same run (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from bench.common import machine

SECTIONS = ("throughput", "latency", "memory", "replay", "detection", "nab", "injection", "durability", "console")
RESULTS = Path(__file__).resolve().parent / "results.json"


def _runners(quick: bool, rate: int, batch: int, fetch_wait_ms: int | None) -> dict[str, Callable[[], Any]]:
    from bench import latency, memory, throughput

    def detection() -> Any:
        from bench import detection as det

        return det.main(days=2.0, incidents=1) if quick else det.main()

    def nab() -> Any:
        from bench import nab as nab_bench

        published, out = nab_bench.published_by_split(), {}
        runs = (("nab_config", nab_bench.DEFAULT_CONFIG, False), ("shipped_defaults", nab_bench.SHIPPED_CONFIG, False),
                ("shipped_defaults_one_detector", nab_bench.SHIPPED_CONFIG, True))
        for name, config, together in runs:
            result = nab_bench.score_config(config, together=together)
            splits = nab_bench.by_split(result)
            print(f"NAB v1.1, {config.name}{', one detector for all 58 series' if together else ''}:")
            print(nab_bench.table(splits, published))
            out[name] = {"config": result["config"], "seconds": result["seconds"], "splits": splits}
        return out

    def durability() -> Any:
        from bench import durability as dur

        return dur.main(quick)

    def injection() -> Any:
        from bench import injection as inj

        return inj.main()

    def console_section() -> Any:
        from bench import console as console_bench

        return console_bench.main(quick)

    return {"console": console_section, "throughput": lambda: throughput.main(quick), "latency": lambda: latency.main(quick, rate, batch, fetch_wait_ms),
            "memory": lambda: memory.main(quick), "replay": lambda: throughput.replay(quick),
            "detection": detection, "nab": nab, "injection": injection, "durability": durability}


def table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    tp = results.get("throughput")
    if isinstance(tp, dict) and "error" not in tp:
        t = Table(title="Throughput (events/s; ratios measured in the same run)")
        for col in ("shape", "events", "raw aiokafka (a)", "bare Faust (b)", "tracewatch (c)", "c/a", "c/b",
                    "c: ingest only", "worker start-up s"):
            t.add_column(col, justify="right")
        for shape, r in tp.items():
            t.add_row(shape, str(r["events"]), _f(r["raw"]["events_per_s"]), _f(r["faust"]["events_per_s"]),
                      _f(r["worker"]["drained_events_per_s"]), str(r["worker_vs_raw"]), str(r["worker_vs_faust"]),
                      _f(r["worker"]["events_per_s"]), str(r["worker"]["startup_s"]))
        console.print(t)
    lat = results.get("latency")
    if isinstance(lat, dict) and "error" not in lat:
        t = Table(title=f"Detection latency at {lat['rate_events_per_s']} events/s "
                        f"({lat['events_per_message']} per message), {lat['spikes']} spikes")
        for col in ("from spike's first publish to", "p50 s", "p99 s", "max s", "count"):
            t.add_column(col, justify="right")
        for name, key, n in (("incident opened", "publish_to_incident_s", lat["incidents_opened"]),
                             ("page at PagerDuty", "publish_to_page_s", lat["pages"])):
            t.add_row(name, str(lat[key]["p50"]), str(lat[key]["p99"]), str(lat[key]["max"]), str(n))
        console.print(t)
        console.print(f"consumer lag at the end of the latency run: {lat['consumer_lag_at_end']} "
                      f"(events read {lat['events_read']} of {lat['events_sent']} sent in the timed part + warm-up)")
    mem = results.get("memory")
    if isinstance(mem, dict) and "error" not in mem:
        t = Table(title="Memory per tracked series")
        for col in ("series", "RSS before MB", "RSS after MB", "RSS bytes/series", "snapshot bytes/series"):
            t.add_column(col, justify="right")
        for r in mem.values():
            t.add_row(str(r["series"]), str(r["rss_before_mb"]), str(r["rss_after_mb"]),
                      str(r["rss_bytes_per_series"]), str(r["snapshot_bytes_per_series"]))
        console.print(t)
    rp = results.get("replay")
    if isinstance(rp, dict) and "error" not in rp:
        console.print(f"detector core (tracewatch replay): {_f(rp['events_per_s'])} events/s over {rp['events']} "
                      f"events (start-up {rp['startup_s']} s subtracted; {_f(rp['events_per_s_incl_startup'])} "
                      "with it)")
    det = results.get("detection")
    if isinstance(det, dict) and "error" not in det:
        recall = {k: v["recall"] for k, v in det.get("kinds", {}).items()}
        console.print(f"detection quality: recall by kind {recall}; false findings per million clean events "
                      f"{det.get('false_findings_per_million_clean')}; detectors cost "
                      f"{det.get('cost', {}).get('us_per_event_busy')} µs/event (busy traffic)")
    inj = results.get("injection")
    if isinstance(inj, dict) and "error" not in inj:
        a = inj["after_feedback"]
        console.print(f"injection: F1 {a['f1']:.3f} after feedback (before {inj['before_feedback']['f1']:.3f}); "
                      f"2 KB scan {inj['scan_2kb_benign_us']:.0f} µs benign, {inj['scan_2kb_attack_us']:.0f} µs attack")
    dur = results.get("durability")
    if isinstance(dur, dict) and "error" not in dur:
        tp, lt, rs, dk = dur["throughput"], dur["latency"], dur["restart"], dur["disk_after_a_day"]
        t = Table(title="Durability: the journal of `tracewatch up` (docs/durability.md)")
        for col in ("measure", "journal off", "journal on", "on/off"):
            t.add_column(col, justify="right")
        t.add_row(f"drain, JSON arrays of 100 ({tp['events']} events), events/s", _f(tp["off_events_per_s"]),
                  _f(tp["on_events_per_s"]), str(tp["on_vs_off"]))
        t.add_row("publish → page p99 s", str(lt["off"]["p99_s"]), str(lt["on"]["p99_s"]), str(lt["p99_on_vs_off"]))
        t.add_row("publish → page p50 s", str(lt["off"]["p50_s"]), str(lt["on"]["p50_s"]), "")
        t.add_row(f"up → healthy s ({rs['series']:,} series, {rs['incidents']:,} incidents)",
                  str(rs["empty"]["healthy_s"]), str(rs["full"]["healthy_s"]), f"+{rs['added_s']} s")
        console.print(t)
        console.print(f"disk: {dk['journal_bytes_per_event']} journal bytes per event; a day at "
                      f"{dk['events_per_s']} events/s: {dk['traffic_bytes'] / 2**30:.1f} GiB of traffic (a day's "
                      f"retention) + {dk['state_bytes_100k_series_10k_incidents'] / 2**20:.0f} MiB of state "
                      f"({rs['series']:,} series, {rs['incidents']:,} incidents)")
    con = results.get("console")
    if isinstance(con, dict) and "error" not in con:
        if not con.get("measured"):
            console.print(f"console: not measured — {con.get('reason')}")
        else:
            li, pl = con["list_10k"], con["plot_day"]
            console.print(f"console (Chromium {con['chromium']}, median of {con['runs']}): {li['incidents']:,} incidents "
                          f"listed in {li['navigation_to_rendered']['median_ms']:.0f} ms from navigation "
                          f"(DOM and layout {li['dom_build_and_layout']['median_ms']:.0f} ms; target ≤ 1000); "
                          f"a day of {pl['points']} points plotted in {pl['first_draw']['median_ms']:.0f} ms "
                          "(target ≤ 300)")
    for name, r in results.items():
        if isinstance(r, dict) and "error" in r:
            console.print(f"[red]{name} failed:[/red] {r['error']}")


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def profile(n_events: int = 20_000) -> str:
    """pyinstrument over ``Ingest.handle`` in process (no broker: benign events produce no sends)."""
    from pyinstrument import Profiler

    from bench.common import json_messages
    from streams.agents.ingest import Ingest
    from streams.service import build_service
    from streams.settings import Settings

    tw = build_service(Settings(_env_file=None), "kafka://127.0.0.1:9", web_enabled=False)
    ingest = Ingest(tw)
    singles = json_messages(n_events, 1)
    arrays = json_messages(n_events, 100)

    async def run() -> tuple[float, float]:
        rates = []
        for messages in (singles, arrays):
            t = time.perf_counter()
            for i, raw in enumerate(messages):
                await ingest.handle("tracewatch.traces", 0, i, raw)
                if i % 256 == 0:
                    tw.suite.flush()
            rates.append(n_events / (time.perf_counter() - t))
        return rates[0], rates[1]

    profiler = Profiler(interval=0.0005)
    profiler.start()
    single_rate, array_rate = asyncio.run(run())
    profiler.stop()
    header = (f"in-process Ingest.handle: {single_rate:,.0f} events/s one per message, "
              f"{array_rate:,.0f} events/s in arrays of 100 (under the profiler)\n")
    return header + profiler.output_text(unicode=False, color=False, show_all=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                 epilog="example: python -m bench --quick --only throughput,memory")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (about a minute or two per section)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections, any of: {', '.join(SECTIONS)}")
    ap.add_argument("--rate", type=int, default=300,
                    help="latency: producer events per second (default 300, what one worker keeps up with here)")
    ap.add_argument("--batch", type=int, default=10, help="latency: events per message (default 10)")
    ap.add_argument("--fetch-wait-ms", type=int, default=None,
                    help="latency what-if: cap the worker's Kafka fetch_max_wait_ms (Faust hard-codes 1500)")
    ap.add_argument("--profile", action="store_true", help="only profile: the ingest path in process, then the whole worker; writes it to a temporary file too")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON results")
    a = ap.parse_args(argv)
    if a.profile:
        from bench.throughput import profile_worker

        text = profile() + "\n\n==== the whole tracewatch worker reading 20,000 single-event messages ====\n\n"
        text += profile_worker()
        path = Path(tempfile.mkdtemp(prefix="tracewatch-bench-profile-")) / "profile.txt"
        path.write_text(text)
        print(text)
        print(f"profile written to {path}")
        return 0
    chosen = [s.strip() for s in a.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        print(f"error: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    runners = _runners(a.quick, a.rate, a.batch, a.fetch_wait_ms)
    results: dict[str, Any] = {"machine": machine(), "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
                               "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    failed = False
    for name in chosen:
        t = time.perf_counter()
        try:
            results[name] = runners[name]()
        except Exception as exc:  # noqa: BLE001 - one failed section must not lose the others' numbers
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            failed = True
        print(f"{name}: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
        a.out.write_text(json.dumps(results, indent=2, default=str))
    table(results)
    print(f"results written to {a.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
