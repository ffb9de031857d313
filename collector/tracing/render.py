"""A journey as text for `eventscope trace ID`: one line per hop, then where it stopped.

ord-42  dead_lettered  3 hops  1.250 s  stuck at payment-service for 75 s
  1  +0.000 s  OrderPlaced        order-service      kafka orders.placed[0]@17
               consumed by inventory-service +0.120 s
  ...
"""

from __future__ import annotations

from typing import Any


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3f} s"


def journey_text(journey: dict[str, Any]) -> str:
    hops = journey.get("hops") or []
    head = (
        f"{journey.get('correlation_id', '?')}  {journey.get('status', '?')}  {len(hops)} hop(s)"
        f"  {_seconds(journey.get('duration_seconds'))}"
    )
    if journey.get("stuck_at"):
        head += f"  stuck at {journey['stuck_at']}"
        if journey.get("stuck_for_seconds") is not None:
            head += f" for {float(journey['stuck_for_seconds']):.0f} s"
    lines = [head]
    start = journey.get("started_at") or 0.0
    for number, hop in enumerate(hops, start=1):
        where = f"{hop.get('broker', '?')} {hop.get('source', '?')}"
        if hop.get("partition") is not None:
            where += f"[{hop['partition']}]@{hop.get('offset')}"
        offset = float(hop.get("produced_at") or start) - float(start)
        lines.append(
            f"  {number:>2}  +{offset:.3f} s  {hop.get('event_type', '?'):<20}"
            f" {hop.get('service') or '?':<22} {where}"
        )
        for c in hop.get("consumed") or []:
            waited = float(c.get("consumed_at") or 0) - float(hop.get("produced_at") or 0)
            lines.append(
                f"                consumed by {c.get('service') or c.get('group')}"
                f" (group {c.get('group')}) +{max(0.0, waited):.3f} s"
            )
        if hop.get("dlq"):
            reason = hop.get("dlq_reason") or "no reason given"
            lines.append(
                f"                DEAD-LETTERED: {reason} (retries {hop.get('retries', 0)})"
            )
    return "\n".join(lines)
