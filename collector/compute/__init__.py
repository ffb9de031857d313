"""Pure computation: lag, time lag, status, counters, the exported view.

Nothing here reads a clock, does I/O, or imports prometheus-client or OpenTelemetry; every time
is passed in, so tests give explicit times.
"""
