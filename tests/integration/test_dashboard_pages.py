"""Every dashboard page, headless (AppTest), against a real Prometheus — and with it down.

A stdlib HTTP server plays the collector: `/metrics` serves a fixed eventscope exposition (two
clusters: Kafka "local" and RabbitMQ "rabbit"; a STALLed group over its threshold, a DLQ, flow
edges) whose counters grow with the clock so rates are above zero, and `/api/*` serves the
collector API's JSON. A real Prometheus scrapes it every second and evaluates one alert rule.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from dashboard.layout import VIEW_KEY
from demo.services import ManagedProcess, free_port, start_prometheus

pytestmark = pytest.mark.service

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
STARTED = time.time()
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"

KAFKA = {"broker": "kafka", "cluster_name": "local"}
RABBIT = {"broker": "rabbitmq", "cluster_name": "rabbit"}
BILLING = {**KAFKA, "group": "billing"}
INVENTORY = {**KAFKA, "group": "inventory-service"}
NOTIFY = {**RABBIT, "group": "notification-service"}
EDGE_ORDER = {"from_service": "order-service", "to_service": "inventory-service"}
EDGE_INVENTORY = {"from_service": "inventory-service", "to_service": "payment-service"}

GAUGES: list[tuple[str, dict[str, str], float]] = [
    ("collector_up", KAFKA, 1),
    ("collector_up", RABBIT, 1),
    ("consumer_lag_messages", {**BILLING, "topic": "orders", "partition": "0"}, 300),
    ("consumer_lag_messages", {**BILLING, "topic": "orders", "partition": "1"}, 120),
    ("consumer_lag_messages", {**INVENTORY, "topic": "orders", "partition": "0"}, 2),
    ("consumer_lag_messages", {**NOTIFY, "topic": "notifications", "partition": ""}, 40),
    (
        "consumer_lag_seconds",
        {**BILLING, "topic": "orders", "partition": "0", "method": "exact"},
        95,
    ),
    (
        "consumer_lag_seconds",
        {**BILLING, "topic": "orders", "partition": "1", "method": "interpolated"},
        60,
    ),
    (
        "consumer_lag_seconds",
        {**INVENTORY, "topic": "orders", "partition": "0", "method": "exact"},
        0.5,
    ),
    (
        "consumer_lag_seconds",
        {**NOTIFY, "topic": "notifications", "partition": "", "method": "head_timestamp"},
        4,
    ),
    ("consumer_group_status", {**BILLING, "status": "STALL"}, 1),
    ("consumer_group_status", {**BILLING, "status": "OK"}, 0),
    ("consumer_group_status", {**INVENTORY, "status": "OK"}, 1),
    ("consumer_group_status", {**NOTIFY, "status": "OK"}, 1),
    ("consumer_group_state", {**BILLING, "state": "Stable"}, 1),
    ("lag_threshold_messages", {"cluster_name": "local", "group": "billing"}, 100),
    ("lag_threshold_seconds", {"cluster_name": "local", "group": "billing"}, 30),
    ("dlq_depth_messages", {**KAFKA, "dlq": "orders.dlq", "source": "orders"}, 7),
]
# counters grow at these rates (per second) from the start of the test module
COUNTERS: list[tuple[str, dict[str, str], float]] = [
    ("produced_messages_total", {**KAFKA, "topic": "orders"}, 20),
    ("produced_messages_total", {**RABBIT, "topic": "notifications"}, 5),
    ("consumed_messages_total", {**BILLING, "topic": "orders"}, 2),
    ("consumed_messages_total", {**INVENTORY, "topic": "orders"}, 20),
    ("consumed_messages_total", {**NOTIFY, "topic": "notifications"}, 5),
    (
        "dead_lettered_messages_total",
        {**KAFKA, "dlq": "orders.dlq", "source": "orders", "reason": "poison"},
        1,
    ),
    ("flow_events_total", {**EDGE_ORDER, "event_type": "OrderPlaced"}, 4),
    ("flow_events_total", {**EDGE_INVENTORY, "event_type": "InventoryReserved"}, 4),
    ("hop_latency_seconds_bucket", {**EDGE_ORDER, "le": "0.5"}, 4),
    ("hop_latency_seconds_bucket", {**EDGE_ORDER, "le": "+Inf"}, 4),
]


def sample(name: str, labels: dict[str, str], value: float) -> str:
    pairs = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"eventscope_{name}{{{pairs}}} {value:.3f}"


RULES = """
groups:
  - name: dashboard-test
    interval: 1s
    rules:
      - alert: ConsumerLagHigh
        expr: |
          sum by (broker, cluster_name, group) (eventscope_consumer_lag_messages)
            > on (cluster_name, group) group_left () eventscope_lag_threshold_messages
        labels: {severity: warning}
        annotations: {summary: "Consumer group {{ $labels.group }} is over its lag threshold"}
"""

JOURNEY = {
    "correlation_id": "order-7",
    "status": "dead_lettered",
    "stuck_at": "payment-service dead-lettered PaymentFailed",
    "stuck_for_seconds": 12.5,
    "hops": [
        {
            "event_type": "OrderPlaced",
            "broker": "kafka",
            "cluster_name": "local",
            "source": "orders",
            "partition": 0,
            "offset": 41,
            "produced_at": 1764150000.0,
            "service": "order-service",
            "dlq": False,
            "dlq_reason": None,
            "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
            "consumed": [
                {
                    "group": "inventory-service",
                    "service": "inventory-service",
                    "consumed_at": 1764150000.4,
                }
            ],
        },
        {
            "event_type": "InventoryReserved",
            "broker": "kafka",
            "cluster_name": "local",
            "source": "inventory",
            "partition": 1,
            "offset": 9,
            "produced_at": 1764150001.0,
            "service": "inventory-service",
            "dlq": False,
            "dlq_reason": None,
            "traceparent": None,
            "consumed": [
                {
                    "group": "payment-service",
                    "service": "payment-service",
                    "consumed_at": 1764150001.2,
                }
            ],
        },
        {
            "event_type": "PaymentFailed",
            "broker": "kafka",
            "cluster_name": "local",
            "source": "orders.dlq",
            "partition": 0,
            "offset": 3,
            "produced_at": 1764150002.0,
            "service": "payment-service",
            "dlq": True,
            "dlq_reason": "poison",
            "traceparent": None,
            "consumed": [],
        },
        {
            "event_type": "InventoryReleased",
            "broker": "kafka",
            "cluster_name": "local",
            "source": "inventory",
            "partition": 1,
            "offset": 10,
            "produced_at": 1764150002.5,
            "service": "inventory-service",
            "dlq": False,
            "dlq_reason": None,
            "traceparent": None,
            "consumed": [],
        },
    ],
}
TRACES = {
    "failed": [  # the collector's failed = dead-lettered or compensated
        {
            "correlation_id": "order-9",
            "status": "compensated",
            "started_at": 1764150003.0,
            "ended_at": 1764150004.0,
            "hops": 3,
            "last_service": "order-service",
            "last_event_type": "OrderCancelled",
        },
        {
            "correlation_id": "order-7",
            "status": "dead_lettered",
            "started_at": 1764150000.0,
            "ended_at": 1764150002.5,
            "hops": 4,
            "last_service": "inventory-service",
            "last_event_type": "InventoryReleased",
        },
    ],
    "slow": [],
    "in_flight": [
        {
            "correlation_id": "order-8",
            "status": "in_flight",
            "started_at": 1764150100.0,
            "ended_at": None,
            "hops": 1,
            "last_service": "order-service",
            "last_event_type": "OrderPlaced",
        }
    ],
}
BILLING_DETAIL = {  # /api/groups/billing?cluster=local: two members, one partition unowned
    **BILLING, "status": "STALL", "reason": "commits frozen while lag > 0", "state": "Stable",
    "members": 2, "folded": False, "lag_messages": 420,
    "member_list": [
        {"member_id": "billing-1-5f2c", "client_id": "billing-1", "host": "/10.0.0.7",
         "instance_id": None, "lag_messages": 300, "lag_seconds": 95.0,
         "partitions": [{"topic": "orders", "partition": 0, "lag_messages": 300}]},
        {"member_id": "billing-2-9a1e", "client_id": "billing-2", "host": "/10.0.0.8",
         "instance_id": None, "lag_messages": 0, "lag_seconds": None,
         "partitions": [{"topic": "orders", "partition": 2, "lag_messages": 0}]},
    ],
    "unassigned": [{"topic": "orders", "partition": 1, "lag_messages": 120}],
}  # fmt: skip
NOTIFICATIONS = [
    {
        "receiver": "dashboard",
        "status": "firing",
        "received_at": 1764150010.0,
        "commonLabels": {"alertname": "ConsumerLagHigh"},
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "ConsumerLagHigh",
                    "severity": "warning",
                    "cluster_name": "local",
                    "group": "billing",
                },
            }
        ],
    },
]


def exposition() -> str:
    elapsed = time.time() - STARTED
    lines = [sample(name, labels, value) for name, labels, value in GAUGES]
    lines += [sample(name, labels, rate * elapsed) for name, labels, rate in COUNTERS]
    return "\n".join(lines) + "\n"


class FakeCollector(BaseHTTPRequestHandler):
    """The collector's /metrics and JSON API, as the contract describes them."""

    tracing = True  # a collector without a trace store answers 404 on /api/traces*

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        if path == "/metrics":
            return self._send(HTTPStatus.OK, exposition().encode(), "text/plain; version=0.0.4")
        if path == "/api/groups":
            group = {
                "broker": "kafka",
                "cluster_name": "local",
                "group": "billing",
                "status": "STALL",
                "reason": "commits frozen while lag > 0",
                "state": "Stable",
                "members": 1,
            }
            queue = {**NOTIFY, "status": "OK", "reason": "", "state": "Stable", "members": 2}
            return self._json(HTTPStatus.OK, {"groups": [group, queue]})
        if path == "/api/groups/billing" and params.get("cluster") == "local":
            return self._json(HTTPStatus.OK, BILLING_DETAIL)
        if path == "/api/alerts/notifications":
            return self._json(HTTPStatus.OK, {"notifications": NOTIFICATIONS})
        if path.startswith("/api/traces") and not self.tracing:
            return self._json(HTTPStatus.NOT_FOUND, {"error": "tracing is not enabled"})
        if path == "/api/traces/order-7":
            return self._json(HTTPStatus.OK, JOURNEY)
        if path.startswith("/api/traces/"):
            return self._json(HTTPStatus.NOT_FOUND, {"error": "no journey for that ID"})
        if path == "/api/traces":
            return self._json(HTTPStatus.OK, {"traces": TRACES.get(params.get("status"), [])})
        return self._json(HTTPStatus.NOT_FOUND, {"error": f"no route {path}"})

    def _json(self, status: HTTPStatus, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def wait_until(what: str, check: Any, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    workdir = tmp_path_factory.mktemp("dashboard-prometheus")
    fake = ThreadingHTTPServer(("127.0.0.1", 0), FakeCollector)
    fake.daemon_threads = True
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    collector = f"http://127.0.0.1:{fake.server_address[1]}"
    (workdir / "rules.yml").write_text(RULES)
    (workdir / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{workdir / 'rules.yml'}]\n"
        "scrape_configs:\n"
        f"  - job_name: eventscope\n    static_configs: [{{targets: ['{collector[7:]}']}}]\n"
    )
    port = free_port()
    prometheus: ManagedProcess = start_prometheus(workdir / "prometheus.yml", port, workdir)
    url = f"http://127.0.0.1:{port}"
    try:

        def query(promql: str) -> list[Any]:
            resp = requests.get(f"{url}/api/v1/query", params={"query": promql}, timeout=2)
            return list(resp.json()["data"]["result"])

        def alerts_firing() -> bool:
            alerts = requests.get(f"{url}/api/v1/alerts", timeout=2).json()["data"]["alerts"]
            return any(a["state"] == "firing" for a in alerts)

        # rates need two scrapes; the alert needs one evaluation after the first scrape
        wait_until(
            "a rate in Prometheus", lambda: query("rate(eventscope_flow_events_total[1m]) > 0")
        )
        wait_until("the test alert to fire", alerts_firing)
        # range queries end at a whole second (`int(time.time())`) and pages use a 5 s rate
        # window: with only the first two scrapes in, the last point's window can hold one
        # sample and a rate chart comes back empty. Five samples leave no such gap.
        wait_until(
            "five scrapes in Prometheus",
            lambda: query("count_over_time(eventscope_consumed_messages_total[10s]) >= 5"),
        )
        yield {"prometheus": url, "collector": collector}
    finally:
        prometheus.stop()
        fake.shutdown()


def open_page(
    monkeypatch: pytest.MonkeyPatch, urls: dict[str, str], page: str, **params: str
) -> AppTest:
    monkeypatch.setenv("EVENTSCOPE_PROMETHEUS_URL", urls["prometheus"])
    monkeypatch.setenv("EVENTSCOPE_COLLECTOR_URL", urls["collector"])
    # a short window: a 1m rate over the few seconds of data a test has would read ~1/10 low
    monkeypatch.setenv("EVENTSCOPE_RATE_WINDOW", "5s")
    monkeypatch.setenv("EVENTSCOPE_TRACE_UI_URL", "http://127.0.0.1:16686/trace/{trace_id}")
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params.update(params)
    at.run()
    if page != "overview":
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no tile {label!r} among {[m.label for m in at.metric]}"
    return str(values[0])


def texts(elements: Any) -> list[str]:
    return [str(e.value) for e in elements]


def table_with(at: AppTest, column: str) -> Any:
    """The first table on the page that has this column (pages stack several tables)."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column")


def figure(at: AppTest, index: int) -> dict[str, Any]:
    """A plotly chart's figure (flow graph, journey waterfall)."""
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def vega_charts(at: AppTest) -> list[Any]:
    return list(at.get("vega_lite_chart"))


def chart(at: AppTest, index: int) -> tuple[str, set[str]]:
    """A time-series chart (Vega-Lite) as the browser gets it: its spec as text, and the names
    of the lines it draws, from the Arrow data sent with it."""
    proto = vega_charts(at)[index].proto
    lines: set[str] = set()
    for dataset in proto.datasets:
        data = convert_arrow_bytes_to_pandas_df(dataset.data.data)
        if "series" in data.columns:
            lines |= set(data["series"])
    return proto.spec, lines


# --- with data ------------------------------------------------------------------------------


def test_overview_shows_tiles_and_the_worst_group_first(monkeypatch, sources):
    at = open_page(monkeypatch, sources, "overview")
    assert texts(at.warning) == []
    assert metric(at, "Brokers up") == "2 / 2"
    assert metric(at, "Backlog (msgs)") == "462"
    assert metric(at, "DLQ depth (msgs)") == "7"
    assert float(metric(at, "In (msg/s)")) > 0 and float(metric(at, "Out (msg/s)")) > 0
    assert metric(at, "Firing alerts") == "1"
    firing = table_with(at, "alertname")
    assert firing.loc[0, ["alertname", "group", "link"]].tolist() == [
        "ConsumerLagHigh",
        "billing",
        "lag?group=billing&cluster=local",
    ]
    table = table_with(at, "lag_messages")
    assert table["group"].iloc[0] == "billing"  # STALL and 4.2x its threshold
    assert set(table["broker"]) == {"kafka", "rabbitmq"}
    assert table.loc[0, "reason"] == "commits frozen while lag > 0"
    assert table.loc[0, "link"] == "lag?group=billing&cluster=local"
    _, lines = chart(at, 0)
    assert "kafka / billing" in lines and "rabbitmq / notification-service" in lines


def test_lag_page_opens_on_the_linked_group_with_thresholds(monkeypatch, sources):
    at = open_page(monkeypatch, sources, "lag", group="billing", range="5m")
    # AppTest drops the entry script's sidebar from its tree after switch_page: read the view
    assert at.session_state[VIEW_KEY].filters.time_range == "5m"
    assert at.selectbox(key="group").value == "billing"
    assert metric(at, "Status (local)") == "STALL"
    assert metric(at, "Lag") == "420 msgs"
    assert any("commits frozen" in c for c in texts(at.caption))
    (messages, _), (seconds, _) = chart(at, 0), chart(at, 1)
    assert '"text": "threshold 100"' in messages and '"text": "threshold 30"' in seconds
    partitions = at.dataframe[0].value
    assert list(partitions["partition"]) == ["0", "1"]
    assert list(partitions["method"]) == ["exact", "interpolated"]
    assert chart(at, 2)[1] == {"orders produced", "orders consumed"}
    members = table_with(at, "client_id")
    assert members[["client_id", "host", "partitions", "lag_messages"]].values.tolist() == [
        ["billing-1", "/10.0.0.7", "orders/0", 300],
        ["billing-2", "/10.0.0.8", "orders/2", 0],
    ]
    assert "member_id" not in members.columns
    assert any("assigned to no member in cluster local: orders/1" in i for i in texts(at.info))


def test_lag_page_says_a_queue_has_consumers_not_members(monkeypatch, sources):
    at = open_page(monkeypatch, sources, "lag", group="notification-service")
    assert any("consumers (2 now), not group members" in i for i in texts(at.info))
    assert not any("client_id" in f.value.columns for f in at.dataframe)


def test_throughput_lists_kafka_topics_and_rabbitmq_queues(monkeypatch, sources):
    at = open_page(monkeypatch, sources, "throughput")
    table = at.dataframe[0].value.set_index("topic")
    # 20/s vs 5/s; both read low while the rate window is not yet full of samples
    assert table.loc["orders", "produced_per_s"] > table.loc["notifications", "produced_per_s"] > 0
    assert table.loc["orders", "groups"] == "billing, inventory-service"
    assert table.loc["notifications", "broker"] == "rabbitmq"
    assert len(vega_charts(at)) == 2


def test_throughput_opens_on_a_linked_topic(monkeypatch, sources):
    at = open_page(monkeypatch, sources, "throughput", topic="notifications")
    assert at.selectbox(key="topic").value == "notifications"
    assert at.dataframe[0].value["topic"].tolist() == ["notifications"]
    assert chart(at, 1)[1] == {"rabbitmq / notification-service / notifications"}


def test_dead_letters_show_depth_reasons_and_failed_journeys(monkeypatch, sources):
    at = open_page(monkeypatch, sources, "dead_letters")
    depth = at.dataframe[0].value
    assert depth.loc[0, ["dlq", "source", "depth"]].tolist() == ["orders.dlq", "orders", 7]
    assert at.dataframe[1].value.loc[0, "reason"] == "poison"
    dead_lettered = table_with(at, "correlation_id")
    assert dead_lettered["link"].tolist() == ["journeys?correlation_id=order-7"]  # not order-9
    assert any(line.endswith("orders.dlq") for line in chart(at, 0)[1])


def test_flow_graph_joins_services_and_topics(monkeypatch, sources):
    at = open_page(monkeypatch, sources, "flow")
    nodes = at.dataframe[0].value.set_index("node")
    assert nodes.loc["orders", "kind"] == "channel"
    assert nodes.loc["billing", "health"] == "bad"  # STALL
    assert nodes.loc["order-service", "health"] == "ok"
    assert nodes.loc["billing", "link"] == "lag?group=billing"
    # the blank canvas drawn while the data loads (views/flow.py) is replaced, not kept
    assert len(at.get("plotly_chart")) == 1
    names = {t["name"] for t in figure(at, 0)["data"] if t.get("name")}
    assert {"services", "topics / queues"} <= names
    # inventory-service reads only "orders": order-service's OrderPlaced went through it
    hovers = [h for t in figure(at, 0)["data"] for h in t.get("hovertext") or []]
    assert any(h.startswith("order-service → orders<br>OrderPlaced") for h in hovers)
    assert not any(h.startswith("order-service → inventory-service") for h in hovers)


def test_journey_explorer_shows_a_linked_journey_hop_by_hop(monkeypatch, sources):
    at = open_page(monkeypatch, sources, "journeys", correlation_id="order-7")
    assert metric(at, "Status") == "dead lettered"
    assert metric(at, "Hops") == "4"
    assert metric(at, "Dead-lettered") == "1"
    assert "Stopped at: payment-service dead-lettered PaymentFailed for 12.5 s" in texts(at.warning)
    kinds = {t["name"] for t in figure(at, 0)["data"]}
    assert {"event", "dlq", "compensation", "first pickup"} <= kinds
    hops = at.dataframe[0].value
    assert hops.loc[0, "pickup_seconds"] == pytest.approx(0.4)
    assert at.get("link_button")[0].proto.url == f"http://127.0.0.1:16686/trace/{TRACE_ID}"
    recent_failed = at.dataframe[1].value
    assert recent_failed["correlation_id"].tolist() == ["order-9", "order-7"]  # newest first


def test_journey_explorer_says_when_an_id_is_unknown(monkeypatch, sources):
    at = open_page(monkeypatch, sources, "journeys", correlation_id="nope-1")
    assert any("No journey found for 'nope-1'" in i for i in texts(at.info))


def test_alerts_page_shows_firing_notifications_and_rules(monkeypatch, sources):
    at = open_page(monkeypatch, sources, "alerts")
    firing = at.dataframe[0].value
    assert firing.loc[0, ["state", "alertname", "group"]].tolist() == [
        "firing",
        "ConsumerLagHigh",
        "billing",
    ]
    assert firing.loc[0, "link"] == "lag?group=billing&cluster=local"
    assert at.dataframe[1].value.loc[0, "status"] == "firing"
    assert "ConsumerLagHigh" in set(at.dataframe[2].value["alertname"])


def test_cluster_filter_narrows_every_panel(monkeypatch, sources):
    at = open_page(monkeypatch, sources, "overview", cluster="rabbit", refresh="1m")
    assert at.session_state[VIEW_KEY].filters.refresh_seconds == 60
    assert metric(at, "Brokers up") == "1 / 1"
    assert list(table_with(at, "lag_messages")["group"]) == ["notification-service"]


# --- sources down ---------------------------------------------------------------------------

PAGES = ["overview", "lag", "throughput", "dead_letters", "flow", "journeys", "alerts"]


@pytest.fixture(scope="module")
def nothing_listening() -> dict[str, str]:
    return {
        "prometheus": f"http://127.0.0.1:{free_port()}",
        "collector": f"http://127.0.0.1:{free_port()}",
    }


@pytest.mark.parametrize("page", PAGES)
def test_every_page_says_plainly_when_sources_are_down(monkeypatch, nothing_listening, page):
    params = {"group": "billing", "correlation_id": "order-7"}
    at = open_page(monkeypatch, nothing_listening, page, **params)
    warnings = " ".join(texts(at.warning))
    if page == "journeys":
        expected = f"The collector API at {nothing_listening['collector']} is unreachable"
    else:
        expected = f"Prometheus at {nothing_listening['prometheus']} is unreachable"
    assert expected in warnings
    assert at.title[0].value  # the page itself still renders
    assert not at.get("plotly_chart")  # no empty graph left where the flow graph would be


def test_lag_table_still_shows_when_only_the_collector_is_down(monkeypatch, sources):
    urls = {"prometheus": sources["prometheus"], "collector": f"http://127.0.0.1:{free_port()}"}
    at = open_page(monkeypatch, urls, "overview")
    assert table_with(at, "lag_messages")["group"].iloc[0] == "billing"
    at = open_page(monkeypatch, urls, "lag", group="billing")
    assert any(
        f"The collector API at {urls['collector']} is unreachable" in w for w in texts(at.warning)
    )  # said once, where the members table would be
    assert list(table_with(at, "method")["partition"]) == ["0", "1"]  # Prometheus' part stays


class UntracedCollector(FakeCollector):
    tracing = False


def test_a_collector_without_tracing_is_explained_not_an_error(monkeypatch, sources):
    untraced = ThreadingHTTPServer(("127.0.0.1", 0), UntracedCollector)
    threading.Thread(target=untraced.serve_forever, args=(0.05,), daemon=True).start()
    try:
        urls = {**sources, "collector": f"http://127.0.0.1:{untraced.server_address[1]}"}
        at = open_page(monkeypatch, urls, "journeys", correlation_id="order-7")
        assert texts(at.warning) == []
        assert any("tracing is not enabled" in i for i in texts(at.info))
        at.switch_page("views/dead_letters.py").run()
        assert at.dataframe[0].value.loc[0, "dlq"] == "orders.dlq"  # metrics still there
        assert any("tracing is not enabled" in i for i in texts(at.info))
    finally:
        untraced.shutdown()
        untraced.server_close()


# --- Prometheus empty or slow ---------------------------------------------------------------


class EmptyPrometheus(BaseHTTPRequestHandler):
    """A Prometheus API that knows no series, rules or alerts (a fresh install); with
    `delay` set it answers that late instead."""

    delay = 0.0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        time.sleep(self.delay)
        path = self.path.partition("?")[0]
        data: dict[str, Any] = {
            "/api/v1/query": {"resultType": "vector", "result": []},
            "/api/v1/query_range": {"resultType": "matrix", "result": []},
            "/api/v1/alerts": {"alerts": []},
            "/api/v1/rules": {"groups": []},
        }.get(path, {})
        body = json.dumps({"status": "success", "data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # we gave up waiting
            self.wfile.write(body)


class SlowPrometheus(EmptyPrometheus):
    delay = 2.0


@pytest.fixture
def fake_prometheus(request: pytest.FixtureRequest) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("fake_prometheus", [EmptyPrometheus], indirect=True)
def test_an_empty_prometheus_is_explained(monkeypatch, sources, fake_prometheus):
    urls = {**sources, "prometheus": fake_prometheus}
    at = open_page(monkeypatch, urls, "overview")
    assert texts(at.warning) == []
    assert metric(at, "Brokers up") == "0 / 0"
    assert metric(at, "Backlog (msgs)") == "—"
    assert "No consumer groups reported yet: is the collector polling a broker?" in texts(at.info)
    at.switch_page("views/alerts.py").run()
    assert "No alerts are firing or pending." in texts(at.success)
    assert any("no alerting rules loaded" in i for i in texts(at.info))


@pytest.mark.parametrize("fake_prometheus", [SlowPrometheus], indirect=True)
def test_a_slow_prometheus_is_named_and_the_page_still_renders(
    monkeypatch, sources, fake_prometheus
):
    monkeypatch.setenv("EVENTSCOPE_HTTP_TIMEOUT_SECONDS", "0.2")
    at = open_page(monkeypatch, {**sources, "prometheus": fake_prometheus}, "dead_letters")
    assert f"Prometheus at {fake_prometheus} did not answer within 0.2 s." in texts(at.warning)
    assert at.dataframe[0].value.loc[0, "correlation_id"] == "order-7"  # the collector part
