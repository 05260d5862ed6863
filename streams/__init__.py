"""tracewatch's running service: Faust app, topics, trace models and decoders, agents, API, CLI."""
