"""The runbook engine: schema, loader, matcher, templating, executor, and one module per action."""
