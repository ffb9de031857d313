"""Reads CloudWatch for the AWS adapter: batched GetMetricData, a read-interval cache, and
counters that live across polls. Optional by design: a failure (unreachable, denied, throttled)
never fails the poll — the readings are empty (values absent) and the change is logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from collector.brokers import sqs_cloudwatch as cw
from collector.brokers.sqs_requests import AwsCaller, all_pages
from collector.errors import BrokerError

log = logging.getLogger(__name__)


class CloudWatchReader:
    def __init__(
        self,
        client: Any,
        call: AwsCaller,
        pool: ThreadPoolExecutor,
        interval_seconds: float,
        cluster: str,
    ) -> None:
        self.client, self.call, self.pool = client, call, pool
        self.interval_seconds = interval_seconds
        self.cluster = cluster
        self._totals: dict[tuple[str, str], cw.CountTotal] = {}
        self._cache: dict[str, cw.Reading] = {}
        self._read_at: float | None = None
        self._ok: bool | None = None

    def read(self, subjects: Sequence[cw.Subject], now: float) -> dict[str, cw.Reading]:
        """Readings by subject key; reuses the last read within `interval_seconds` (GetMetricData
        is billed per metric and its data is per minute) unless a new subject appeared."""
        if not subjects:
            return {}
        keys = [s.key for s in subjects]
        fresh = self._read_at is not None and now - self._read_at < self.interval_seconds
        if fresh and set(keys) <= set(self._cache):
            return {k: self._cache[k] for k in keys}
        start, end = cw.query_window(now)
        batches = cw.batches(cw.metric_queries(subjects))
        try:
            pages = list(self.pool.map(lambda b: self._metric_data(b, start, end), batches))
        except BrokerError as exc:
            self._state(False, str(exc))
            self._cache, self._read_at = {}, None
            return {}
        self._state(True, "")
        points = cw.points_by_id(r for page in pages for r in page)
        values, self._totals = cw.readings(subjects, points, self._totals, now)
        self._cache, self._read_at = values, now
        return values

    def _metric_data(self, queries: list[Any], start: float, end: float) -> list[Any]:
        params = {
            "MetricDataQueries": queries,
            "StartTime": datetime.fromtimestamp(start, UTC),
            "EndTime": datetime.fromtimestamp(end, UTC),
        }
        api, operation = "cloudwatch.GetMetricData", self.client.get_metric_data
        return [
            r
            for page in all_pages(self.call, api, operation, params)
            for r in page.get("MetricDataResults", [])
        ]

    def _state(self, ok: bool, message: str) -> None:
        if ok and self._ok is False:
            log.info("aws cluster %s: CloudWatch readable again", self.cluster)
        elif not ok and self._ok is not False:
            log.warning(
                "aws cluster %s: CloudWatch unreadable, ages absent: %s", self.cluster, message
            )
        self._ok = ok
