"""The demo event pipeline: an order flow and an analytics fan-out on Kafka and/or RabbitMQ.

`Pipeline(config).start()` / `.stop()` runs it as threads of this process; `run(config, stop)`
blocks until the event is set; `python -m demo.pipeline` runs it until SIGINT/SIGTERM.
See docs/demo.md.
"""

from demo.pipeline.config import KafkaSettings, PipelineConfig, RabbitSettings
from demo.pipeline.pipeline import Pipeline, run

__all__ = ["KafkaSettings", "Pipeline", "PipelineConfig", "RabbitSettings", "run"]
