"""Ports picked for components: never the same one twice while components are starting."""

import json
import tempfile
from pathlib import Path

import pytest

from subkube.controlplane import ports


@pytest.fixture(autouse=True)
def own_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def test_no_port_is_handed_out_twice_while_reserved() -> None:
    # 300 picks from the kernel's ~14k bind ports repeat one with near certainty without
    # the ledger.
    picked = [ports.free_port() for _ in range(300)]
    assert len(set(picked)) == len(picked)


def test_a_reservation_lapses(monkeypatch: pytest.MonkeyPatch) -> None:
    ports.free_port()
    monkeypatch.setattr(ports, "RESERVED_SECONDS", 0.0)
    second = ports.free_port()
    assert json.loads(ports._ledger().read_text()).keys() == {str(second)}


def test_a_remembered_port_is_kept_while_free(tmp_path: Path) -> None:
    path = tmp_path / "port"
    port = ports.remembered_port(path)
    assert ports.remembered_port(path) == port
    assert path.read_text() == str(port)
