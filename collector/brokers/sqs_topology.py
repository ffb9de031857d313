"""SQS queue attributes and EventBridge rules → shared value types and flow edges. Pure.

The mapping (see docs/aws.md for the why):

    ready           = ApproximateNumberOfMessages            (visible, waiting)
    unacked         = ApproximateNumberOfMessagesNotVisible  (received, not yet deleted)
    consumers       = None                                   (SQS cannot say who polls)
    published_total = CloudWatch NumberOfMessagesSent, summed over settled periods
    acked_total     = CloudWatch NumberOfMessagesDeleted, summed likewise
    age_seconds     = CloudWatch ApproximateAgeOfOldestMessage, method `cloudwatch_age`

A queue is a DLQ when some queue's `RedrivePolicy.deadLetterTargetArn` names it, or when an
EventBridge rule target's `DeadLetterConfig.Arn` does — whatever the DLQ is called. Its sources
are the sorted, comma-joined names (`orders,payments`), so a DLQ fed by several queues is one
`DeadLetterSample` and its depth is never counted twice.

Example: `orders` has RedrivePolicy {"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:1:parking"}
→ `parking` is a DLQ with source `orders`; its depth is reported as `dlq_depth_messages`, not as
a consumer backlog.
"""

from __future__ import annotations

import fnmatch
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from collector.model import DeadLetterSample, LagMethod, QueueSample

QUEUE_ATTRIBUTES = (
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "RedrivePolicy",
)


def name_from_url(url: str) -> str:
    """`https://sqs.eu-west-1.amazonaws.com/123456789012/orders` → `orders`."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def name_from_arn(arn: str) -> str:
    """`arn:aws:sqs:eu-west-1:123456789012:orders` → `orders` (the last `:` field)."""
    return arn.rsplit(":", 1)[-1]


def account_from_arn(arn: str) -> str:
    """`arn:aws:sqs:eu-west-1:123456789012:orders` → `123456789012` ("" when not an ARN)."""
    parts = arn.split(":")
    return parts[4] if len(parts) >= 6 else ""


def is_sqs_arn(arn: str) -> bool:
    """`arn:<partition>:sqs:<region>:<account>:<name>`."""
    parts = arn.split(":")
    return len(parts) == 6 and parts[0] == "arn" and parts[2] == "sqs" and bool(parts[5])


@dataclass(frozen=True)
class QueueSelection:
    """Which queues are reported: a name must pass the include globs and no exclude glob.

    (Prefixes are applied by ListQueues itself, server side, to list fewer queues.)
    """

    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()

    def wanted(self, name: str) -> bool:
        return _matches(name, self.include) and not _matches(name, self.exclude)


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


@dataclass(frozen=True)
class QueueState:
    """One queue's GetQueueAttributes answer, parsed."""

    name: str
    url: str
    arn: str
    visible: int
    not_visible: int
    dead_letter_target: str = ""  # ARN of the queue RedrivePolicy sends to, "" when none


def parse_queue_state(url: str, attributes: Mapping[str, str]) -> QueueState:
    """GetQueueAttributes `Attributes` → `QueueState`; a malformed RedrivePolicy means none."""
    target = ""
    raw = attributes.get("RedrivePolicy")
    if raw:
        try:
            policy = json.loads(raw)
        except ValueError:
            policy = {}
        if isinstance(policy, dict):
            target = str(policy.get("deadLetterTargetArn") or "")
    return QueueState(
        name=name_from_url(url),
        url=url,
        arn=str(attributes.get("QueueArn", "")),
        visible=_count(attributes.get("ApproximateNumberOfMessages")),
        not_visible=_count(attributes.get("ApproximateNumberOfMessagesNotVisible")),
        dead_letter_target=target,
    )


def _count(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


@dataclass(frozen=True)
class FlowEdge:
    """One arrow of the flow graph. Node ids: `bus:<bus>`, `rule:<bus>/<rule>`, `queue:<name>`,
    `target:<arn>` (a non-SQS target), `service:<name>`. Relations:

    routes        bus → rule            the rule matches events on the bus
    delivers      rule → queue/target   one of the rule's targets
    dead_letters  rule → queue          the target's DeadLetterConfig (failed deliveries)
    redrives      queue → queue         RedrivePolicy (after maxReceiveCount receives)
    consumed_by   queue → service       `tracing.group_services` (see `consumer_edges`)
    """

    source: str
    target: str
    relation: str
    enabled: bool = True


@dataclass(frozen=True)
class RuleTargets:
    """One EventBridge rule and the targets ListTargetsByRule returned for it."""

    bus: str
    rule: str
    enabled: bool
    targets: tuple[Mapping[str, object], ...]

    @property
    def node(self) -> str:
        return f"rule:{self.bus}/{self.rule}"


def target_node(arn: str) -> str:
    return f"queue:{name_from_arn(arn)}" if is_sqs_arn(arn) else f"target:{arn}"


def rule_edges(rule: RuleTargets) -> list[FlowEdge]:
    """bus → rule, rule → each target, rule → each target's DLQ."""
    edges = [FlowEdge(f"bus:{rule.bus}", rule.node, "routes", rule.enabled)]
    for target in rule.targets:
        arn = str(target.get("Arn", ""))
        if arn:
            edges.append(FlowEdge(rule.node, target_node(arn), "delivers", rule.enabled))
        dlq = rule_target_dlq(target)
        if dlq:
            edges.append(FlowEdge(rule.node, target_node(dlq), "dead_letters", rule.enabled))
    return edges


def rule_target_dlq(target: Mapping[str, object]) -> str:
    config = target.get("DeadLetterConfig")
    return str(config.get("Arn", "")) if isinstance(config, Mapping) else ""


def redrive_edges(states: Iterable[QueueState]) -> list[FlowEdge]:
    return [
        FlowEdge(f"queue:{s.name}", target_node(s.dead_letter_target), "redrives")
        for s in states
        if s.dead_letter_target
    ]


def consumer_edges(edges: Iterable[FlowEdge], services: Mapping[str, str]) -> list[FlowEdge]:
    """queue → the service consuming it, for every queue node of `edges` that `services`
    (`tracing.group_services`, queue → service) names. No AWS API says who polls a queue.

    Example: edges [rule:shop/r → queue:shop-billing], services {"shop-billing": "billing"}
    → [FlowEdge("queue:shop-billing", "service:billing", "consumed_by")].
    """
    queues = sorted({n for e in edges for n in (e.source, e.target) if n.startswith("queue:")})
    return [
        FlowEdge(q, f"service:{services[q[len('queue:') :]]}", "consumed_by")
        for q in queues
        if services.get(q[len("queue:") :])
    ]


def rule_of_node(node: str) -> tuple[str, str]:
    """`rule:<bus>/<rule>` → (bus, rule); bus names cannot hold "/", rule names can't either."""
    bus, _, rule = node.removeprefix("rule:").partition("/")
    return bus, rule


def dead_letter_arns(states: Iterable[QueueState], rules: Iterable[RuleTargets] = ()) -> set[str]:
    """Every SQS queue ARN some redrive policy or rule target names as its DLQ."""
    arns = {s.dead_letter_target for s in states}
    arns |= {rule_target_dlq(t) for r in rules for t in r.targets}
    return {a for a in arns if is_sqs_arn(a)}


def dead_letter_sources(
    states: Iterable[QueueState], rules: Iterable[RuleTargets] = ()
) -> dict[str, tuple[str, ...]]:
    """DLQ name → sorted sources: queues whose RedrivePolicy names it, rules whose target's
    DeadLetterConfig names it (as `rule:<bus>/<rule>`)."""
    sources: dict[str, set[str]] = defaultdict(set)
    for s in states:
        if is_sqs_arn(s.dead_letter_target):
            sources[name_from_arn(s.dead_letter_target)].add(s.name)
    for rule in rules:
        for target in rule.targets:
            dlq = rule_target_dlq(target)
            if is_sqs_arn(dlq):
                sources[name_from_arn(dlq)].add(rule.node)
    return {dlq: tuple(sorted(names)) for dlq, names in sources.items()}


@dataclass(frozen=True)
class QueueMetrics:
    """What CloudWatch said about one queue; None = no datapoints (or CloudWatch unreachable)."""

    age_seconds: float | None = None
    sent_total: int | None = None
    deleted_total: int | None = None


def rule_dlq_deliveries(
    rules: Iterable[RuleTargets], sent_to_dlq: Mapping[str, float | None]
) -> dict[str, int]:
    """DLQ name → events EventBridge sent to it (CloudWatch InvocationsSentToDlq, per rule).

    The metric is per rule, not per target, so only a rule whose targets share one DLQ is
    counted (a rule with two DLQs cannot be split honestly).
    Example: rule r → targets billing (DLQ failed), audit (DLQ failed); 3 sent → {"failed": 3}.
    """
    out: dict[str, int] = {}
    for rule in rules:
        dlqs = {rule_target_dlq(t) for t in rule.targets} - {""}
        count = sent_to_dlq.get(rule.node)
        if len(dlqs) == 1 and count is not None and is_sqs_arn(next(iter(dlqs))):
            name = name_from_arn(dlqs.pop())
            out[name] = out.get(name, 0) + int(count)
    return out


def queue_samples(
    states: Sequence[QueueState],
    sources: Mapping[str, tuple[str, ...]],
    metrics: Mapping[str, QueueMetrics],
    rule_deliveries: Mapping[str, int] | None = None,
) -> tuple[tuple[QueueSample, ...], tuple[DeadLetterSample, ...]]:
    """Parsed queues → samples (sorted by name) and one `DeadLetterSample` per DLQ; events
    EventBridge dead-lettered into it are counted with reason `delivery_failed`."""
    rule_deliveries = rule_deliveries or {}
    queues: list[QueueSample] = []
    dead_letters: list[DeadLetterSample] = []
    for s in sorted(states, key=lambda s: s.name):
        m = metrics.get(s.name, QueueMetrics())
        fed_by = sources.get(s.name, ())
        queues.append(
            QueueSample(
                name=s.name,
                ready=s.visible,
                unacked=s.not_visible,
                consumers=None,
                published_total=m.sent_total,
                acked_total=m.deleted_total,
                is_dlq=bool(fed_by),
                dlq_sources=fed_by,
                age_seconds=m.age_seconds,
                # always this label on SQS: an empty queue is 0 s old, whatever CloudWatch says
                age_method=LagMethod.CLOUDWATCH_AGE,
            )
        )
        if fed_by:
            depth = s.visible + s.not_visible
            delivered = rule_deliveries.get(s.name)
            reasons = {} if delivered is None else {"delivery_failed": delivered}
            dead_letters.append(DeadLetterSample(s.name, ",".join(fed_by), depth, reasons))
    return tuple(queues), tuple(dead_letters)
