"""The YAML layer under every stage: one bounded loader whose nodes keep their line, one table of the
configs' messages, one way to name a type. Pure: it reads only the text it is given.

``yamlconf.loader``: ``parse(text)`` gives the nodes and their values, ``load(text)`` the value, or
``YamlSyntaxError`` with the line; ``safe_load`` raises PyYAML's own errors.
``yamlconf.messages``: ``MESSAGES``, ``Report`` (the ``file:line: path: message`` lines), ``wanted`` /
``type_name``, ``did_you_mean`` / ``hint``.
"""

from yamlconf.loader import Document, SafeLoader, YamlSyntaxError, line_of, load, parse, safe_load
from yamlconf.messages import MESSAGES, Problem, Report, did_you_mean, hint, message, type_name, wanted

__all__ = ["MESSAGES", "Document", "Problem", "Report", "SafeLoader", "YamlSyntaxError", "did_you_mean", "hint",
           "line_of", "load", "message", "parse", "safe_load", "type_name", "wanted"]
