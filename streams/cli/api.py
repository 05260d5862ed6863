"""``tracewatch incidents|blocks|models|prompts …``: the HTTP API from the terminal (tables, or ``--json``)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from streams.cli import app
from streams.cli._common import console, settings_or_exit

incidents_app = typer.Typer(help="List, show, acknowledge and resolve incidents.", no_args_is_help=True)
blocks_app = typer.Typer(help="List and remove blocks on users and sessions.", no_args_is_help=True)
prompts_app = typer.Typer(help="Show, register, roll back and promote prompt versions.", no_args_is_help=True)
models_app = typer.Typer(help="List, pin and unpin model versions (after a provider model update).",
                         no_args_is_help=True)
app.add_typer(incidents_app, name="incidents")
app.add_typer(blocks_app, name="blocks")
app.add_typer(models_app, name="models")
app.add_typer(prompts_app, name="prompts")

out = Console(markup=False, highlight=False)  # ids and reasons come from traces: text, never markup
URL_HELP = "API base URL; default TRACEWATCH_API_URL or http://127.0.0.1:TRACEWATCH_WEB_PORT."
JSON_HELP = "Print the API's JSON instead of a table."


def call(method: str, path: str, url: Optional[str], *, body: Any = None, params: Any = None) -> Any:
    settings = settings_or_exit()
    base = (url or settings.web_url).rstrip("/")
    headers = {}
    if settings.api_token is not None:
        headers["Authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
    try:
        response = httpx.request(method, base + path, json=body, params=params, headers=headers, timeout=15)
    except httpx.HTTPError as exc:
        console.print(f"[red]error:[/red] cannot reach the tracewatch API at {base}: {exc}. "
                      "Is `tracewatch up` running? Set --url or TRACEWATCH_API_URL.")
        raise typer.Exit(1) from exc
    try:
        data = response.json()
    except ValueError:
        data = {"error": response.text[:500]}
    if response.status_code == 401:
        console.print("[red]error:[/red] unauthorized: set TRACEWATCH_API_TOKEN to the workers' API token")
        raise typer.Exit(1)
    if response.status_code >= 400:
        console.print(f"[red]error:[/red] {escape(str(data.get('error', data)))}", markup=True, highlight=False)
        raise typer.Exit(1)
    return data


def seg(value: str) -> str:
    """An id as one path segment: any character, "/" and "{" included, percent-encoded."""
    return quote(value, safe="")


def when(ts: Optional[float]) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title)
    for column in columns:
        t.add_column(column)
    for row in rows:
        t.add_row(*[Text(str(v)) if v is not None else "" for v in row])
    out.print(t)


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


@incidents_app.command("list")
def incidents_list(
    state: Optional[str] = typer.Option(None, help="open, acknowledged, resolved or active (not resolved)."),
    detector: Optional[str] = typer.Option(None), kind: Optional[str] = typer.Option(None),
    severity: Optional[str] = typer.Option(None), limit: int = typer.Option(100, min=1),
    url: Optional[str] = typer.Option(None, help=URL_HELP), as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List incidents, newest first. Example: [bold]tracewatch incidents list --state active[/bold]"""
    params = {k: v for k, v in dict(state=state, detector=detector, kind=kind, severity=severity,
                                    limit=limit).items() if v is not None}
    data = call("GET", "/v1/incidents", url, params=params)
    if as_json:
        return emit_json(data)
    table("incidents", ["id", "state", "severity", "detector", "series", "opened", "findings", "summary"],
          [[i["id"], i["state"], i["severity"], i["detector"], i["series"], when(i["opened_at"]),
            i["finding_count"], i["summary"][:60]] for i in data["incidents"]])


@incidents_app.command("show")
def incidents_show(incident_id: str, url: Optional[str] = typer.Option(None, help=URL_HELP)) -> None:
    """Show one incident with its findings and runbook executions (JSON).
    Example: [bold]tracewatch incidents show inc-0123abcd4567[/bold]"""
    emit_json(call("GET", f"/v1/incidents/{seg(incident_id)}", url))


def _incident_change(action: str, incident_id: str, by: str, url: Optional[str], as_json: bool) -> None:
    data = call("POST", f"/v1/incidents/{seg(incident_id)}/{action}", url, body={"by": by})
    if as_json:
        return emit_json(data)
    out.print(f"{data['id']}: {data['state']}")


@incidents_app.command("ack")
def incidents_ack(incident_id: str, by: str = typer.Option("cli", help="Who acknowledges."),
                  url: Optional[str] = typer.Option(None, help=URL_HELP),
                  as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Acknowledge an incident. Example: [bold]tracewatch incidents ack inc-0123abcd4567 --by alice[/bold]"""
    _incident_change("ack", incident_id, by, url, as_json)


@incidents_app.command("resolve")
def incidents_resolve(incident_id: str, by: str = typer.Option("cli", help="Who resolves."),
                      url: Optional[str] = typer.Option(None, help=URL_HELP),
                      as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Resolve an incident. Example: [bold]tracewatch incidents resolve inc-0123abcd4567[/bold]"""
    _incident_change("resolve", incident_id, by, url, as_json)


@blocks_app.command("list")
def blocks_list(url: Optional[str] = typer.Option(None, help=URL_HELP),
                as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List the blocks in force. Example: [bold]tracewatch blocks list[/bold]"""
    data = call("GET", "/v1/blocks", url)
    if as_json:
        return emit_json(data)
    table("blocks", ["subject", "reason", "incident", "since", "expires", "by"],
          [[b["subject"], b["reason"][:60], b.get("incident_id"), when(b["created_at"]), when(b.get("expires_at")),
            b["created_by"]] for b in data["blocks"]])


@blocks_app.command("remove")
def blocks_remove(subject: str = typer.Argument(..., help="user:<id> or session:<id>"),
                  reason: str = typer.Option("removed by on-call", help="Why (kept in the record)."),
                  url: Optional[str] = typer.Option(None, help=URL_HELP)) -> None:
    """Remove a block. Example: [bold]tracewatch blocks remove user:u-123 --reason "false positive"[/bold]"""
    if ":" not in subject or subject.split(":", 1)[0] not in ("user", "session"):
        raise typer.BadParameter("expected user:<id> or session:<id>", param_hint="SUBJECT")
    call("DELETE", f"/v1/blocks/{seg(subject)}", url, body={"reason": reason, "by": "cli"})
    out.print(f"removed {subject}")


@models_app.command("list")
def models_list(url: Optional[str] = typer.Option(None, help=URL_HELP),
                as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List the pinned models. Example: [bold]tracewatch models list[/bold]"""
    data = call("GET", "/v1/models", url)
    if as_json:
        return emit_json(data)
    table("pinned models", ["model", "use", "instead of", "reason", "incident", "since", "expires", "by"],
          [[m["value"], m.get("use"), m.get("instead_of"), m["reason"][:60], m.get("incident_id"),
            when(m["created_at"]), when(m.get("expires_at")), m["created_by"]] for m in data["models"]])


@models_app.command("pin")
def models_pin(model: str = typer.Argument(..., help="The model your application requests, e.g. gpt-4o."),
               to: str = typer.Option(..., "--to", help="The version to request instead, e.g. gpt-4o-2024-08-06."),
               ttl: Optional[str] = typer.Option(None, help="How long, e.g. 2h; default until unpinned."),
               reason: str = typer.Option("pinned by on-call", help="Why (kept in the record)."),
               url: Optional[str] = typer.Option(None, help=URL_HELP),
               as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Pin a model: applications asking /v1/models/check request TO instead.
    Example: [bold]tracewatch models pin gpt-4o --to gpt-4o-2024-08-06 --ttl 1d[/bold]"""
    data = call("POST", f"/v1/models/{seg(model)}/pin", url,
                body={"to": to, "ttl": ttl, "reason": reason, "by": "cli"})
    if as_json:
        return emit_json(data)
    until = f" until {when(data['expires_at'])}" if data.get("expires_at") else " until unpinned"
    out.print(f"pinned {model} to {data['use']}{until}{resolved_text(data)}")


@models_app.command("unpin")
def models_unpin(model: str = typer.Argument(..., help="The pinned model, e.g. gpt-4o."),
                 reason: str = typer.Option("new version adopted by on-call", help="Why (kept in the record)."),
                 url: Optional[str] = typer.Option(None, help=URL_HELP)) -> None:
    """Remove a pin (adopt the new version). Example: [bold]tracewatch models unpin gpt-4o[/bold]"""
    data = call("DELETE", f"/v1/models/{seg(model)}", url, body={"reason": reason, "by": "cli"})
    out.print(f"unpinned {model}{resolved_text(data)}")


def resolved_text(data: dict) -> str:
    """The model_update incidents a pin or an unpin resolved (it decided them)."""
    ids = data.get("resolved") if isinstance(data, dict) else None
    return f"; resolved {', '.join(map(str, ids))}" if ids else ""


@prompts_app.command("list")
def prompts_list(url: Optional[str] = typer.Option(None, help=URL_HELP),
                 as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List prompts with their labels. Example: [bold]tracewatch prompts list[/bold]"""
    data = call("GET", "/v1/prompts", url)
    if as_json:
        return emit_json(data)
    table("prompts", ["prompt", "production", "versions", "last change"],
          [[p["prompt_id"], p["labels"].get("production"), ", ".join(p["versions"][-6:]),
            (f"{p['last_move']['kind']} {p['last_move']['from_version']}→{p['last_move']['to_version']} "
             f"by {p['last_move']['by']}") if p["last_move"] else ""] for p in data["prompts"]])


@prompts_app.command("show")
def prompts_show(prompt_id: str, url: Optional[str] = typer.Option(None, help=URL_HELP)) -> None:
    """Show a prompt's versions, labels and label history (JSON).
    Example: [bold]tracewatch prompts show support-answer[/bold]"""
    emit_json(call("GET", f"/v1/prompts/{seg(prompt_id)}", url))


@prompts_app.command("register")
def prompts_register(prompt_id: str, version: str,
                     template: Optional[str] = typer.Option(None, help="The prompt text of this version."),
                     promote: bool = typer.Option(False, help="Also move `production` to it."),
                     url: Optional[str] = typer.Option(None, help=URL_HELP)) -> None:
    """Register a new version of a prompt.
    Example: [bold]tracewatch prompts register support-answer 4 --promote[/bold]"""
    call("POST", f"/v1/prompts/{seg(prompt_id)}/versions", url,
         body={"version": version, "template": template, "by": "cli"})
    out.print(f"{prompt_id}: registered version {version}")
    if promote:
        move = call("POST", f"/v1/prompts/{seg(prompt_id)}/promote", url, body={"version": version, "by": "cli"})
        out.print(f"{prompt_id}: production {move['from_version']} → {move['to_version']}")


@prompts_app.command("rollback")
def prompts_rollback(prompt_id: str, reason: str = typer.Option("rolled back by on-call", help="Why."),
                     url: Optional[str] = typer.Option(None, help=URL_HELP)) -> None:
    """Move `production` back to the version it had before.
    Example: [bold]tracewatch prompts rollback support-answer --reason "hallucinations"[/bold]"""
    move = call("POST", f"/v1/prompts/{seg(prompt_id)}/rollback", url, body={"reason": reason, "by": "cli"})
    out.print(f"{prompt_id}: production {move['from_version']} → {move['to_version']}")


@prompts_app.command("promote")
def prompts_promote(prompt_id: str,
                    version: Optional[str] = typer.Option(None, help="Default: the latest registered version."),
                    reason: str = typer.Option("promoted by on-call", help="Why."),
                    url: Optional[str] = typer.Option(None, help=URL_HELP)) -> None:
    """Move `production` forward (roll forward after a rollback).
    Example: [bold]tracewatch prompts promote support-answer --version 4[/bold]"""
    move = call("POST", f"/v1/prompts/{seg(prompt_id)}/promote", url,
                body={"version": version, "reason": reason, "by": "cli"})
    out.print(f"{prompt_id}: production {move['from_version']} → {move['to_version']}")
