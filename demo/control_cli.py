"""`eventscope demo ctl KNOB ...`: turn a knob of the running demo through its control endpoint."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import requests


def control_url(args: argparse.Namespace) -> str:
    if args.control:
        return str(args.control)
    state = Path(args.workdir) / "state.json"
    try:
        return str(json.loads(state.read_text())["urls"]["control"])
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"eventscope demo ctl: no running demo found ({state}: {exc})") from exc


def knob_body(knob: str, values: list[str]) -> dict[str, Any]:
    """CLI words → the control endpoint's JSON body; ValueError names what is missing."""
    try:
        match knob:
            case "rate":
                body: dict[str, Any] = {"orders": float(values[0])}
                if len(values) > 1:
                    body["interactions"] = float(values[1])
                return body
            case "slow":
                return {"service": values[0], "ms": int(values[1])}
            case "stop" | "start":
                return {"service": values[0]}
            case "poison":
                return {"rate": float(values[0])}
            case "burst":
                return {"orders": int(values[0])}
    except IndexError:
        raise ValueError(f"{knob}: missing value (see eventscope demo ctl --help)") from None
    raise ValueError(f"unknown knob {knob}")


def run_ctl(args: argparse.Namespace) -> int:
    url = control_url(args)
    try:
        if args.knob == "status":
            resp = requests.get(f"{url}/status", timeout=10)
        else:
            resp = requests.post(
                f"{url}/{args.knob}", json=knob_body(args.knob, args.values), timeout=10
            )
    except ValueError as exc:
        print(f"eventscope demo ctl: {exc}", file=sys.stderr)
        return 2
    except requests.RequestException as exc:
        print(f"eventscope demo ctl: control endpoint {url} unreachable: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(resp.json(), indent=2))
    return 0 if resp.ok else 1
