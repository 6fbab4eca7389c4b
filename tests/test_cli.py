"""`omni demo` never mixes two sandbox worlds in one data folder, nor touches one that is not a demo's."""

from __future__ import annotations

import json

import pytest

from connectors.sandbox.faults import FAULT_PROFILES
from connectors.sandbox.generate import WORLD_VERSION
from pipelines.cli import _forget_other_worlds, build_parser


def _demo_folder(tmp_path, **recorded):
    data = tmp_path / "data"
    (data / "landing" / "tmall").mkdir(parents=True)
    (data / "landing" / "tmall" / "x.parquet").write_bytes(b"x")
    (data / "demo.json").write_text(json.dumps(recorded))
    return data


def test_the_same_world_keeps_its_history(tmp_path):
    data = _demo_folder(tmp_path, seed=7, people=3000, world_version=WORLD_VERSION)
    _forget_other_worlds(data, 7, 3000)
    assert (data / "landing" / "tmall" / "x.parquet").exists()


@pytest.mark.parametrize(
    "recorded",
    [
        {"seed": 8, "people": 3000, "world_version": WORLD_VERSION},
        {"seed": 7, "people": 3000, "world_version": WORLD_VERSION - 1},
        {"seed": 7, "people": 3000},  # written before the generator had a version
    ],
)
def test_another_world_or_an_older_generator_is_cleared(tmp_path, recorded):
    data = _demo_folder(tmp_path, **recorded)
    _forget_other_worlds(data, 7, 3000)
    assert not (data / "landing").exists()


def test_a_folder_that_is_not_a_demos_is_refused(tmp_path):
    data = _demo_folder(tmp_path)
    (data / "demo.json").unlink()
    with pytest.raises(SystemExit, match="not from a demo"):
        _forget_other_worlds(data, 7, 3000)


def test_faults_take_a_profile_or_fault_names_and_name_an_unknown_one(capsys):
    parser = build_parser()
    assert parser.parse_args(["demo", "--faults", "mix"]).faults == FAULT_PROFILES["mix"]
    assert parser.parse_args(["demo"]).faults == frozenset()
    chosen = parser.parse_args(["sandbox", "serve", "--faults", "http_429, connection_reset"]).faults
    assert chosen == {"http_429", "connection_reset"}
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--faults", "http_429,gremlins"])
    assert "unknown fault gremlins: use a profile (none, mix)" in capsys.readouterr().err


def test_full_rebuild_reaches_the_warehouse_steps(monkeypatch):
    """`omni run --full-rebuild` sets what the model steps read (OMNI_FULL_REBUILD) before the run."""
    import os

    import pipelines.runner
    from pipelines.cli import cmd_run
    from pipelines.runner import RangeRunResult

    seen = []
    monkeypatch.setenv("OMNI_FULL_REBUILD", "0")  # recorded, so the flag's setting is undone after the test
    monkeypatch.delenv("OMNI_FULL_REBUILD")
    monkeypatch.setattr(
        pipelines.runner,
        "run_range",
        lambda *a, **k: seen.append(os.environ.get("OMNI_FULL_REBUILD")) or RangeRunResult(True, True, []),
    )
    day = ["--start", "2026-11-01", "--end", "2026-11-01"]
    assert cmd_run(build_parser().parse_args(["run", *day])) == 0 and seen == [None], (
        "by default staging builds incrementally"
    )
    args = build_parser().parse_args(["run", *day, "--full-rebuild"])
    assert cmd_run(args) == 0 and seen == [None, "1"]
