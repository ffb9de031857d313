"""Record healthy groups' lag from a running demo as a promtool test (lag-sawtooth.test.yml).

    .venv/bin/python -m collector.cli demo --auto-ports --workdir /tmp/rec --poll-interval 5 \
        --no-dashboard
    # after 16+ minutes with no fault injected (the Prometheus URL is in /tmp/rec/state.json):
    .venv/bin/python alerts/tests/record_sawtooth.py http://127.0.0.1:PORT \
        > alerts/tests/lag-sawtooth.test.yml

Each healthy group's backlog summed over its partitions (what
`eventscope:consumer_group_lag_messages:sum` reads), one value per `--step` seconds, oldest first;
the series keep `broker`, `cluster_name` and `group`, with `topic="all"` and `partition=""` standing
for the sum. Missing steps are written as `_` (promtool's "no sample").
"""

from __future__ import annotations

import argparse
import time

import requests

from demo.pipeline.events import HEALTHY_CONSUMERS as HEALTHY  # ml-training is slow on purpose


def record(prometheus: str, minutes: float, step: float) -> dict[tuple[str, str, str], list]:
    end = time.time()
    groups = "|".join(f"(eventscope-demo/)?{g}" for g in HEALTHY)
    lag = f'eventscope_consumer_lag_messages{{group=~"{groups}"}}'
    query = f"sum by (broker, cluster_name, group) ({lag})"
    resp = requests.get(
        f"{prometheus}/api/v1/query_range",
        params={"query": query, "start": end - minutes * 60, "end": end, "step": step},
        timeout=30,
    )
    resp.raise_for_status()
    steps = int(minutes * 60 // step) + 1
    start = end - minutes * 60
    out: dict[tuple[str, str, str], list] = {}
    for row in resp.json()["data"]["result"]:
        m = row["metric"]
        values: list = ["_"] * steps
        for t, v in row["values"]:
            i = round((float(t) - start) / step)
            if 0 <= i < steps:
                values[i] = int(float(v))
        out[(m["broker"], m["cluster_name"], m["group"])] = values
    return out


GROWTH_PER_SECOND = 6.0  # added to one recorded sawtooth for the must-fire case
THRESHOLD = 500  # the demo's default `thresholds.messages`


def series_line(labels: str, values: list) -> str:
    text = " ".join(str(v) for v in values)
    return f"      - series: '{labels}'\n        values: '{text}'\n"


def lag_labels(broker: str, cluster: str, group: str) -> str:
    return (
        f'eventscope_consumer_lag_messages{{broker="{broker}",cluster_name="{cluster}",'
        f'group="{group}",topic="all",partition=""}}'
    )


def climb(values: list, step: float, at: float) -> float:
    """The alert's value at `at` seconds: min over [at-4m, at] minus max over [at-10m, at-5m]
    (Prometheus 2 ranges include both ends)."""

    def window(lo: float, hi: float) -> list[float]:
        return [v for i, v in enumerate(values) if v != "_" and lo <= i * step <= hi]

    return min(window(at - 240, at)) - max(window(at - 600, at - 300))


def must_fire(group: str, value: float) -> str:
    assert value < 1000, "humanize would write k"
    description = (
        f"The lowest backlog of group {group} (kafka cluster demo-kafka) in the last 4 minutes is"
        f" {value:g} messages above its highest 5 to 10 minutes ago, and at its 10-minute trend"
        " it reaches its lag threshold within an hour."
    )
    return f"""          - exp_labels:
              severity: warning
              broker: kafka
              cluster_name: demo-kafka
              group: {group}
            exp_annotations:
              summary: "Lag of consumer group {group} on demo-kafka keeps growing"
              description: "{description}"
              runbook_url: https://github.com/eventscope/eventscope/blob/main/docs/alerts.md#consumerlaggrowing
"""


def test_file(recorded: dict[tuple[str, str, str], list], step: float, minutes: float) -> str:
    """The whole promtool file: no recorded group fires at any whole minute from 10m (both
    windows hold data) to the end; the Kafka batch-analytics sawtooth with a steady
    GROWTH_PER_SECOND added fires at the end."""
    end = int(minutes)
    inputs = ""
    for (broker, cluster, group), values in sorted(recorded.items()):
        inputs += series_line(lag_labels(broker, cluster, group), values)
        threshold = f'eventscope_lag_threshold_messages{{cluster_name="{cluster}",group="{group}"}}'
        inputs += series_line(threshold, [f"{THRESHOLD}x{len(values) - 1}"])
    quiet = "".join(
        f"      - eval_time: {m}m\n        alertname: ConsumerLagGrowing\n        exp_alerts: []\n"
        for m in range(10, end + 1)
    )
    base = recorded[("kafka", "demo-kafka", "batch-analytics")]
    grown = [v if v == "_" else int(v + GROWTH_PER_SECOND * i * step) for i, v in enumerate(base)]
    grown_inputs = series_line(lag_labels("kafka", "demo-kafka", "growing-batch"), grown)
    threshold = 'eventscope_lag_threshold_messages{cluster_name="demo-kafka",group="growing-batch"}'
    grown_inputs += series_line(threshold, [f"{THRESHOLD}x{len(base) - 1}"])
    return f"""# ConsumerLagGrowing on real sawtooth series, from `eventscope demo` (poll 5 s)
# with no fault injected: the backlog of each group healthy by construction, summed over its
# partitions. Regenerate: see alerts/tests/record_sawtooth.py (this file is its output).
rule_files:
  - ../eventscope.rules.yml
evaluation_interval: {step:g}s

tests:
  # Must not fire: every healthy group, Kafka and RabbitMQ, threshold {THRESHOLD} messages,
  # at every minute from 10m (both windows full) to the end of the recording.
  - interval: {step:g}s
    input_series:
{inputs}    alert_rule_test:
{quiet}
  # Must fire: the Kafka batch-analytics sawtooth with {GROWTH_PER_SECOND:g} messages/s added
  # (group growing-batch): its troughs climb over the earlier peaks once the growth outweighs
  # the sawtooth's swing (~290 messages).
  - interval: {step:g}s
    input_series:
{grown_inputs}    alert_rule_test:
      - eval_time: {end}m
        alertname: ConsumerLagGrowing
        exp_alerts:
{must_fire("growing-batch", climb(grown, step, end * 60))}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prometheus", help="the demo's Prometheus URL")
    parser.add_argument("--minutes", type=float, default=16.0)
    parser.add_argument("--step", type=float, default=5.0, help="seconds; the test's interval")
    args = parser.parse_args()
    print(test_file(record(args.prometheus, args.minutes, args.step), args.step, args.minutes))


if __name__ == "__main__":
    main()
