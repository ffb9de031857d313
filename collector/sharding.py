"""Split groups and topics between collector instances: `shard: "i/n"` in each one's config.

Rendezvous (highest-random-weight) hashing on the name: every instance computes the same owner
for a name without talking to the others, and going from n to n+1 shards moves only ~1/(n+1)
of the names. Group-level series belong to the group's owner, topic-level series (throughput,
end offsets, DLQs) to the topic's owner, every series of a RabbitMQ/SQS queue to the owner of
its display name (`orders`, `shop/orders`), a DLQ to its own name's owner; so the union of all
shards' series equals one collector's, with no duplicates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from collector.config import parse_shard


def owner(name: str, shards: int) -> int:
    """The 1-based shard that owns `name` among `shards`."""
    best, best_score = 1, -1
    for i in range(1, shards + 1):
        digest = hashlib.blake2b(f"{i}\x00{name}".encode(), digest_size=8).digest()
        score = int.from_bytes(digest, "big")
        if score > best_score:
            best, best_score = i, score
    return best


@dataclass(frozen=True)
class ShardFilter:
    index: int = 1
    count: int = 1

    @classmethod
    def from_config(cls, shard: str) -> ShardFilter:
        if not shard:
            return cls()
        index, count = parse_shard(shard)
        return cls(index, count)

    def owns(self, name: str) -> bool:
        return self.count == 1 or owner(name, self.count) == self.index
