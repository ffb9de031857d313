"""Mutated copies of deploy/eventscope.example.yml, for the property test of `check-config` and
for measuring a checker from the command line:

    python -m tests.config_mutants --seed 1 --count 200 --check "eventscope check-config"

Each mutant is the reference file (as shipped, or with its commented rabbitmq/aws/sqs blocks
switched on) with one to three mutations: a value replaced by a wrong type, sign, NaN, inf or a
huge number; a key deleted or an unknown one added; librdkafka properties, real and invented;
and file-level damage: deep nesting, alias bombs, non-UTF-8 bytes, non-string keys, truncation.
"""

from __future__ import annotations

import argparse
import copy
import random
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "eventscope.example.yml"

ODD_VALUES: list[Any] = [
    float("nan"), float("inf"), float("-inf"), 1e308, -1e308, -1, -5, 0, 0.0, 1e-300, 2**63,
    10**30, 3.5, -0.5, True, False, None, "", "fast", "${UNSET_SECRET}", "x" * 5000,
    "*" * 40 + "a", [], ["a", 1], {}, {"a": 1}, "1/0", "0/0", "h:99999", "::", 65536,
]  # fmt: skip
LIBRDKAFKA_PROPERTIES: list[tuple[str, Any]] = [
    ("security.protocol", "SASL_SSL"), ("security.protocol", "carrier-pigeon"),
    ("sasl.mechanism", "SCRAM-SHA-512"), ("session.timeout.ms", -5), ("socket.timeout.ms", 1),
    ("no.such.property", "1"), ("linger.ms", 5), ("statistics.interval.ms", "x"),
    ("message.max.bytes", 999_999_999), ("client.rack", "eu-1a"), ("enable.idempotence", True),
]  # fmt: skip


def base_configs() -> list[dict[str, Any]]:
    """The reference as shipped, and with its commented rabbitmq, aws and sqs blocks enabled."""
    text = EXAMPLE.read_text()
    full = re.sub(r"(?m)^  # (?=- |  |sqs:)", "  ", text).replace("${RABBITMQ_PASSWORD}", "pw")
    return [yaml.safe_load(text), yaml.safe_load(full)]


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in `node` (dict keys and list indexes), parents before children."""
    found: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        found.append((*prefix, key))
        if isinstance(value, dict | list) and value:
            found.extend(paths(value, (*prefix, key)))
    return found


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


def mutate_tree(doc: dict[str, Any], rng: random.Random) -> None:
    path = rng.choice(paths(doc))
    parent, key = _parent(doc, path), path[-1]
    op = rng.randrange(6)
    if op <= 1:
        parent[key] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif op == 2 and isinstance(parent, dict):
        del parent[key]
    elif op == 3 and isinstance(parent, dict):
        parent[rng.choice(["bogus", "Poll_Interval_Seconds", "aws_secret_access_key"])] = 1
    elif op == 4:
        parent[key] = [parent[key]]
    else:
        clusters = doc.get("clusters")  # an earlier mutation may have made it a scalar
        kafka = [c for c in clusters if isinstance(c, dict)] if isinstance(clusters, list) else []
        if kafka and isinstance(kafka[0].get("client"), dict):
            prop, value = rng.choice(LIBRDKAFKA_PROPERTIES)
            kafka[0]["client"][prop] = value
        else:
            parent[key] = rng.choice(ODD_VALUES)


def damage_text(text: str, rng: random.Random) -> bytes:
    """File-level mutations that no dict can express."""
    op = rng.randrange(6)
    if op == 0:
        depth = rng.choice([50, 1000, 5000])
        return (text + "deep: " + "[" * depth + "]" * depth + "\n").encode()
    if op == 1:  # "billion laughs" under a known key: 9^9 values once expanded
        levels = [f"&l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
        bomb = f"[&l0 [{', '.join(['lol'] * 9)}], {', '.join(levels)}, [{', '.join(['*l8'] * 9)}]]"
        key = rng.choice(["log_level", "poll_interval_seconds"])
        return (text + f"{key}: {bomb}\n").encode()
    if op == 2:
        raw = bytearray(text.encode())
        raw[rng.randrange(len(raw))] = rng.choice([0xFF, 0xC3, 0x80, 0xE9])
        return bytes(raw)
    if op == 3:
        return (
            text + rng.choice(["1: one\n", "? [a, b]\n: x\n", "null: 1\n", "3.5: x\n"])
        ).encode()
    if op == 4:
        return text[: rng.randrange(len(text))].encode()
    return (text + "loop: &loop [*loop]\n").encode()


def mutant(rng: random.Random) -> bytes:
    doc = copy.deepcopy(rng.choice(base_configs()))
    for _ in range(rng.randint(1, 3)):
        mutate_tree(doc, rng)
    text = yaml.safe_dump(doc, sort_keys=False, width=1000)
    if rng.random() < 0.2:
        return damage_text(text, rng)
    return text.encode()


def mutants(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    return [mutant(rng) for _ in range(count)]


def main() -> int:
    """Run a checker command over `count` mutants: how many it accepted, refused, crashed on
    (a traceback or another exit code) and hung on (no answer within --timeout seconds)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--check", default=f"{sys.executable} -m collector.cli check-config")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--keep", help="write the mutants and their answers to this folder")
    args = parser.parse_args()
    tally = {"accepted": 0, "refused": 0, "crashed": 0, "hung": 0}
    keep = Path(args.keep) if args.keep else None
    with tempfile.TemporaryDirectory() as tmp:
        for i, data in enumerate(mutants(args.seed, args.count)):
            path = Path(tmp) / f"mutant-{i:03}.yml"
            path.write_bytes(data)
            started = time.monotonic()
            try:
                proc = subprocess.run(
                    [*shlex.split(args.check), "--config", str(path)],
                    capture_output=True,
                    timeout=args.timeout,
                )
                out = proc.stderr.decode(errors="replace")
                crashed = "Traceback" in out or proc.returncode not in (0, 2)
                verdict = (
                    "crashed" if crashed else "accepted" if proc.returncode == 0 else "refused"
                )
            except subprocess.TimeoutExpired:
                verdict, out = "hung", ""
            tally[verdict] += 1
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                (keep / path.name).write_bytes(data)
                took = time.monotonic() - started
                (keep / f"{path.stem}.{verdict}.txt").write_text(f"{took:.2f}s\n{out[-2000:]}")
    print(" ".join(f"{k}={v}" for k, v in tally.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
