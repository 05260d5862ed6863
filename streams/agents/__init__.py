"""Faust agents: one step of the data flow each (docs/architecture.md). ``register(tw)`` attaches one to the app."""
