"""The dashboard's login limiter, with explicit times (dashboard/login_limiter.py)."""

from __future__ import annotations

import pytest

from dashboard.login_limiter import LoginLimiter

# (case, events, client, ask at, expected retry_after); an event is (time, "fail"|"ok", client)
CASES = [
    ("1 four failures lock nothing", [(t, "fail", "a") for t in range(4)], "a", 4, 0.0),
    ("2 the fifth locks for 30 s", [(t, "fail", "a") for t in range(5)], "a", 5, 29.0),
    ("3 the lockout ends", [(t, "fail", "a") for t in range(5)], "a", 34, 0.0),
    ("4 another client is not locked", [(t, "fail", "a") for t in range(5)], "b", 5, 0.0),
    (
        "5 failures outside the window do not add up",
        [(t * 100, "fail", "a") for t in range(5)],
        "a",
        400,
        0.0,
    ),
    (
        "6 a second lockout lasts twice as long",
        [(t, "fail", "a") for t in [*range(5), *range(34, 39)]],
        "a",
        38,
        60.0,
    ),
    (
        "7 a right password clears the count",
        [*[(t, "fail", "a") for t in range(4)], (4, "ok", "a"), (5, "fail", "a")],
        "a",
        5,
        0.0,
    ),
    (  # each burst starts as the last lockout ends: 30, 60, 120, 240, 480, then 900 not 960
        "8 lockouts grow to the cap",
        [(t, "fail", "a") for start in (0, 34, 98, 222, 466, 950) for t in range(start, start + 5)],
        "a",
        954,
        900.0,
    ),
    (
        "9 quiet for the longest lockout: growth starts over",
        [(t, "fail", "a") for start in (0, 1000) for t in range(start, start + 5)],
        "a",
        1004,
        30.0,
    ),
]


@pytest.mark.parametrize(
    ("events", "client", "at", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rules(events, client, at, expected) -> None:
    limiter = LoginLimiter(max_lockout_seconds=900.0)
    for when, what, who in events:
        if what == "fail":
            limiter.failed(who, when)
        else:
            limiter.succeeded(who)
    assert limiter.retry_after(client, at) == pytest.approx(expected)


def test_failed_returns_the_lockout_it_started() -> None:
    limiter = LoginLimiter()
    assert [limiter.failed("a", 0.0) for _ in range(5)] == [0.0, 0.0, 0.0, 0.0, 30.0]


def test_quiet_clients_are_forgotten_and_records_are_bounded() -> None:
    limiter = LoginLimiter(max_clients=3)
    for t in range(5):
        limiter.failed("a", t)
    assert limiter.retry_after("a", 5 + 900 + 30) == 0.0  # quiet for max_lockout_seconds
    for n, client in enumerate("bcde"):
        limiter.failed(client, 2000 + n)
    assert len(limiter._records) == 3
