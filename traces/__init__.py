"""Traces: the trace event model, its decoders (tracewatch JSON, OTLP) and the price table. Pure."""
