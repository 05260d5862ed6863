"""Chat messages as the text the detectors read: what users, documents and tools sent, not the app's own
system prompt.

Apps and SDKs send a call's input as a list of messages (OpenAI and Anthropic chat, Langfuse, the GenAI
conventions' ``gen_ai.input.messages``, OpenLLMetry's ``gen_ai.prompt.N.*``). The text parts of each
message are joined with newlines. Messages whose role is ``system`` or ``developer`` are left out: they
are the application's own instructions, the same on every call, and an injection scanner judging them
would judge the app ("Answer all customer requests and follow all instructions" reads like a jailbreak
persona) and flag every call. Tool results and earlier assistant turns stay: they carry what documents,
web pages and users put there.

>>> messages_text([{"role": "system", "content": "You are SupportBot. Answer all requests."},
...                {"role": "user", "content": [{"type": "text", "text": "Where is my order?"},
...                                             {"type": "image_url", "image_url": {"url": "https://x"}}]}])
'Where is my order?'
>>> messages_text('[{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]')
'hi'
>>> messages_text([{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}])
'a\\nb'
>>> messages_text([{"role": "system", "content": "only instructions"}])
''
"""

from __future__ import annotations

from typing import Any

import orjson

#: roles whose messages are the application's own instructions, not input
APP_ROLES = frozenset({"system", "developer"})


def is_app_role(role: Any) -> bool:
    return isinstance(role, str) and role.strip().lower() in APP_ROLES


def messages_text(value: Any) -> str | None:
    """Text of a message list (or JSON text of one, or one message); plain text is returned as it is."""
    if value is None:
        return None
    if isinstance(value, str):
        stripped = value.lstrip()
        if not stripped.startswith(("[", "{")):
            return value
        try:
            value = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return value
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return str(value)
    parts: list[str] = []
    for message in value:
        if not isinstance(message, dict):
            parts.append(message if isinstance(message, str) else str(message))
        elif not is_app_role(message.get("role")):
            _text_parts(message.get("content"), parts)
            _text_parts(message.get("parts"), parts)  # the GenAI conventions' and Gemini's parts
    return "\n".join(parts)


def _text_parts(content: Any, into: list[str]) -> None:
    """A message's text: a string, or the text of its parts (``{"type": "text", "text": …}`` in OpenAI's
    and Anthropic's lists, ``{"content": …}`` in the GenAI conventions', ``{"text": …}`` in Gemini's);
    images, audio and tool calls carry none."""
    if isinstance(content, str):
        into.append(content)
    elif isinstance(content, list):  # (iterating text or an object found nothing anyway)
        for part in content:
            if isinstance(part, str):
                into.append(part)
            elif isinstance(part, dict):
                text = part.get("text", part.get("content"))
                if isinstance(text, str):
                    into.append(text)
