"""Renderers of the collector's view: the metric table, Prometheus, OpenTelemetry."""
