"""eventscope collector: samples brokers on its own timer, exports metrics, keeps traces."""

__version__ = "0.1.0"
