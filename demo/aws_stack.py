"""The AWS part of `eventscope demo --aws`: ports, and the collector config for the order flow
on EventBridge + SQS against moto's server (an emulator; the demo never reaches live AWS).

Names: bus `shop-events`, one rule and one queue per consuming service (`shop-<service>`), a
parked queue per service found through its redrive policy, and the trace tap's queue
`shop-eventscope-tap`, a second target of every rule (see demo/aws_pipeline.py).
"""

from __future__ import annotations

from demo.pipeline.events import ALL_CONSUMERS

AWS_PORTS = {  # only with --aws / --only aws
    "aws_port": 5000,  # moto_server's own default
    "aws_control_port": 9401,  # the EventBridge + SQS pipeline's knobs
}
AWS_PREFIX = "shop-"  # every queue, rule and the bus of the demo's AWS pipeline
AWS_REGION = "us-east-1"


def aws_cluster_config(port: int) -> str:
    return f"""  - name: demo-aws
    kind: aws
    region: {AWS_REGION}
    endpoint_url: http://127.0.0.1:{port}   # moto's server: an emulator, not live AWS
    queue_prefixes: [{AWS_PREFIX}]
    event_buses: [{AWS_PREFIX}events]
    exclude_queues: ["*eventscope-tap"]   # the trace tap's own queue
    cloudwatch: false                     # moto publishes no SQS or EventBridge metrics
    request_timeout_seconds: 3
"""


def aws_tracing_config() -> str:
    """The SQS tap on the tap queue every demo rule also targets; queue → service names for
    the flow graph's queue → consuming service edges."""
    services = ", ".join(f"{AWS_PREFIX}{s}: {s}" for s in ALL_CONSUMERS)
    return (
        f"  group_services: {{{services}}}\n"
        f"  sqs: {{cluster: demo-aws, queue: {AWS_PREFIX}eventscope-tap,"
        f" source: {AWS_PREFIX}events}}\n"
    )
