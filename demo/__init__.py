"""The demo: an event-driven order pipeline and the embedded stack that `eventscope demo` runs."""
