"""The errors of templating: a template that fails, and one that would go over a limit."""


class RenderError(ValueError):
    """A template failed to compile or render (syntax error, undefined name, sandbox violation)."""


class TemplateLimitError(RenderError):
    """A template would exceed a size limit or its step budget (``runbooks.templating.limits``)."""
