"""Every number of the config has a declared range, and the reference file lists every key."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.config import CLUSTER_KINDS, Config
from collector.config_bounds import RANGE

REFERENCE = Path(__file__).resolve().parents[2] / "deploy" / "eventscope.example.yml"


def sections(cls: Any, key: str = "") -> list[tuple[str, Any]]:
    """(dotted key, dataclass) for `cls` and every section under it."""
    found = [(key, cls)]
    for name, hint in typing.get_type_hints(cls).items():
        sub = f"{key}.{name}" if key else name
        if dataclasses.is_dataclass(hint):
            found.extend(sections(hint, sub))
        elif name == "clusters":
            for kind, cluster in CLUSTER_KINDS.items():
                found.extend(sections(cluster, f"clusters[{kind}]"))
        elif name == "groups" and key == "thresholds":
            found.extend(sections(typing.get_args(hint)[0], f"{sub}[]"))
    return found


NUMBERS = [
    (f"{key}.{f.name}" if key else f.name, f)
    for key, cls in sections(Config)
    for f in dataclasses.fields(cls)
    if {int, float}
    & {typing.get_type_hints(cls)[f.name], *typing.get_args(typing.get_type_hints(cls)[f.name])}
]


def test_numbers_are_found():
    assert len(NUMBERS) >= 38  # 38 in December


@pytest.mark.parametrize(("key", "fld"), NUMBERS, ids=[k for k, _ in NUMBERS])
def test_every_number_has_a_range_that_holds_its_default(key, fld):
    limits = fld.metadata.get(RANGE)
    assert limits is not None, f"{key}: declare it with bounded(default, lo, hi)"
    if fld.default is not None:
        limits.check(fld.default, key)


def test_the_reference_file_is_valid_with_its_commented_blocks_switched_on(tmp_path):
    from collector.config import load_config
    from tests.config_mutants import base_configs

    for i, doc in enumerate(base_configs()):
        path = tmp_path / f"ref{i}.yml"
        path.write_text(yaml.safe_dump(doc))
        load_config(path, env={})
