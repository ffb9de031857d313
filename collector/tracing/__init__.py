"""Correlation-ID tracing: a tap reads event headers, a store keeps hops, journeys are stitched.

tap (kafka_tap, rabbitmq_tap) ──parse_headers──► Hop ──► TraceStore (SQLite WAL)
TraceStore.hops(id) ──stitch_journey (pure)──► Journey ──► api / render / otel / metrics
"""
