"""Token counts as the SDKs name them, read into the trace event's own fields.

Apps log what their SDK hands back. OpenAI's chat completions ``usage`` has ``prompt_tokens`` and
``completion_tokens`` (cached and reasoning tokens in ``prompt_tokens_details.cached_tokens`` and
``completion_tokens_details.reasoning_tokens``); OpenAI's responses ``usage`` has ``input_tokens`` and
``output_tokens`` (``input_tokens_details``, ``output_tokens_details``); Anthropic's ``usage`` has
``input_tokens`` *beside* ``cache_read_input_tokens`` and ``cache_creation_input_tokens``, which it does not
include, where tracewatch's ``input_tokens`` does (docs/architecture.md). LangChain and LiteLLM put the chat names
at the top level. Read as they are, all of these landed in ``metadata``: the event had no tokens, so no price,
and the cost detectors were blind to the app without a word.

A field the event sets itself wins. A top-level chat name read into a field is taken out (it is that field under
another name); a ``usage`` object stays in ``metadata`` as sent (it may hold more: audio or prediction tokens). The
values are validated as the event's own fields are, and refused under their names (docs/decoders.md).
"""

from __future__ import annotations

from typing import Any

#: keys that make an event take this path (``TraceEvent`` reads them; the fast twin leaves such events to it)
SDK_TOKEN_KEYS = frozenset({"usage", "prompt_tokens", "completion_tokens"})
#: the chat names at the top level
TOP_LEVEL = {"prompt_tokens": "input_tokens", "completion_tokens": "output_tokens"}
CACHE_FIELDS = ("cache_read_input_tokens", "cache_creation_input_tokens")


def _whole(x: Any) -> bool:
    return (type(x) is int or (type(x) is float and x.is_integer())) and x >= 0


def _detail(usage: dict[str, Any], names: tuple[str, str], key: str) -> Any:
    for name in names:
        details = usage.get(name)
        if isinstance(details, dict) and details.get(key) is not None:
            return details[key]
    return None


def counts_in_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """The event's count fields in an SDK's ``usage`` object (values as sent; None: not there).

    >>> counts_in_usage({"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
    ...                  "prompt_tokens_details": {"cached_tokens": 100}})
    {'input_tokens': 120, 'output_tokens': 30, 'cache_read_input_tokens': 100}
    >>> counts_in_usage({"input_tokens": 20, "output_tokens": 30, "cache_read_input_tokens": 100,
    ...                  "cache_creation_input_tokens": 0})  # Anthropic: input_tokens leaves the cache out
    {'input_tokens': 120, 'output_tokens': 30, 'cache_read_input_tokens': 100, 'cache_creation_input_tokens': 0}
    """
    got: dict[str, Any] = {"input_tokens": usage.get("prompt_tokens", usage.get("input_tokens")),
                           "output_tokens": usage.get("completion_tokens", usage.get("output_tokens"))}
    cache = [usage.get(name) for name in CACHE_FIELDS]
    if "prompt_tokens" not in usage and any(x is not None for x in cache):
        parts = [x for x in (got["input_tokens"], *cache) if x is not None]
        if got["input_tokens"] is not None and all(_whole(x) for x in parts):
            got["input_tokens"] = int(sum(parts))
    for name, value in zip(CACHE_FIELDS, cache):
        got[name] = value
    if got["cache_read_input_tokens"] is None:
        got["cache_read_input_tokens"] = _detail(usage, ("prompt_tokens_details", "input_tokens_details"),
                                                 "cached_tokens")
    got["reasoning_output_tokens"] = _detail(usage, ("completion_tokens_details", "output_tokens_details"),
                                             "reasoning_tokens")
    return {k: v for k, v in got.items() if v is not None}


def read_sdk_counts(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the SDKs' token names read into the event's fields (a new dict when any was).

    >>> read_sdk_counts({"model": "m", "prompt_tokens": 12, "completion_tokens": "3"})
    {'model': 'm', 'input_tokens': 12, 'output_tokens': '3'}
    >>> read_sdk_counts({"input_tokens": 12, "prompt_tokens": 99})  # the event's own field wins
    {'input_tokens': 12, 'prompt_tokens': 99}
    >>> read_sdk_counts({"output_tokens": 5, "usage": {"prompt_tokens": 12, "completion_tokens": 6}})
    {'output_tokens': 5, 'usage': {'prompt_tokens': 12, 'completion_tokens': 6}, 'input_tokens': 12}
    """
    out = dict(data)
    for theirs, ours in TOP_LEVEL.items():
        if theirs in out and out.get(ours) is None:
            out[ours] = out.pop(theirs)
    usage = out.get("usage")
    if isinstance(usage, dict):
        out.update({k: v for k, v in counts_in_usage(usage).items() if out.get(k) is None})
    return out
