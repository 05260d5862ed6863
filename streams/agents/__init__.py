"""Faust agents: one step of the data flow each (DESIGN.md). ``register(tw)`` attaches one to the app."""
