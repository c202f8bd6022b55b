"""controlPlane.backingStore.database.external on a real PostgreSQL, as a tenant and a
platform team use it: kine keeps the vcluster's objects in the database (read back with
psql), they survive pause, resume, delete and a new create on the same database, the
tenant's pods reach the host translated, the password shows nowhere but the config file,
and a database kine cannot log in to fails `subkube create` in one line."""

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import kubectl, wait_for
from tests.e2e.lab import WEB_IN_SHOP, HostLab
from tests.e2e.postgres import PASSWORD, Postgres, postgres

pytestmark = pytest.mark.e2e

HOST = "pgstore"
NS = "team-pg"
VC = "pg"

APP = (
    """apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {colour: blue}
---
"""
    + WEB_IN_SHOP
)


class Lab(HostLab):
    def ok(self, *args: str) -> str:
        res = self.cli(*args)
        assert res.returncode == 0, f"subkube {' '.join(args)}: {res.stdout}{res.stderr}"
        return res.stdout

    def fails(self, *args: str) -> str:
        res = self.cli(*args)
        assert res.returncode == 1, res.stdout + res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, f"one line, not: {res.stderr}"
        return lines[0]

    def tenant(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        """kubectl as the tenant. The kubeconfig is asked for each time: a vcluster made
        anew has new certificates."""
        kc = Path(self.ok("kubeconfig", VC, "-n", NS).strip())
        return kubectl(kc, *args, **kw)

    def web_on_host(self) -> list[str]:
        """Names of the Running host copies of the tenant's web pods."""
        pods = self.host_json("-n", NS, "get", "pods", "-l", f"subkube.io/managed-by={VC}")
        return sorted(
            p["metadata"]["name"]
            for p in pods["items"]
            if p["status"].get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")
            and p["metadata"]["annotations"].get("subkube.io/object-namespace") == "shop"
        )


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    with postgres(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, pg: Postgres) -> Iterator[Lab]:
    # Depends on pg so the database outlives every vcluster on it, even after a failure.
    lab = Lab(tmp_path_factory.mktemp("pgstore"))
    with lab.running(HOST, nodes=1):
        yield lab


def stored(pg: Postgres, database: str) -> set[str]:
    """The keys kine holds now, read from its table (latest row of each key not deleted)."""
    rows = pg.psql(
        "SELECT name FROM kine k WHERE id = (SELECT max(id) FROM kine WHERE name = k.name) "
        "AND deleted = 0 AND name LIKE '/registry/%/shop/%'",
        database,
    )
    return {row[0] for row in rows}


def files_with(root: Path, secret: str) -> list[Path]:
    """The files under ROOT that hold SECRET (state files come and go as they are saved)."""
    found = []
    for path in root.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and secret.encode() in path.read_bytes():
                found.append(path)
    return found


def command_lines_with(secret: str) -> list[str]:
    """The command lines of this machine's processes that hold SECRET."""
    found = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and secret.encode() in (proc / "cmdline").read_bytes():
                found.append((proc / "cmdline").read_bytes().decode(errors="replace"))
    return found


def two_web_pods_translated(lab: Lab) -> bool:
    names = lab.web_on_host()
    return len(names) == 2 and all(
        n.startswith("web-") and n.endswith(f"-x-shop-x-{VC}") for n in names
    )


def the_data_is_inside(lab: Lab) -> None:
    settings = json.loads(
        lab.tenant("-n", "shop", "get", "configmap", "settings", "-o", "json").stdout
    )
    assert settings["data"] == {"colour": "blue"}
    deploy = json.loads(lab.tenant("-n", "shop", "get", "deployment", "web", "-o", "json").stdout)
    assert deploy["spec"]["replicas"] == 2


def test_the_data_lives_in_postgres_across_pause_resume_delete_and_create(
    lab: Lab, pg: Postgres, tmp_path: Path
) -> None:
    database = "vc_pg"
    config = tmp_path / "subkube.yaml"
    config.write_text(
        "controlPlane:\n  backingStore:\n    database:\n      external:\n"
        f"        enabled: true\n        dataSource: '{pg.create_database(database)}'\n"
    )
    create = ("create", VC, "-n", NS, "-f", str(config), "--no-connect")
    lab.ok(*create)
    lab.tenant("create", "namespace", "shop")
    lab.tenant("apply", "-f", "-", stdin=APP)
    wait_for("the web pods on the host", lambda: two_web_pods_translated(lab))
    keys = {"/registry/configmaps/shop/settings", "/registry/deployments/shop/web"}
    assert keys <= stored(pg, database)

    # The password is in the vcluster's config (its runner needs it at each start), kept
    # owner-only, and nowhere else: not in a log, not on a command line.
    vc_dir = lab.state / "vclusters" / NS / VC
    assert PASSWORD in (vc_dir / "config.json").read_text()
    assert (vc_dir / "config.json").stat().st_mode & 0o077 == 0
    assert files_with(lab.state, PASSWORD) == [vc_dir / "config.json"]
    assert command_lines_with(PASSWORD) == []
    assert PASSWORD not in lab.ok("describe", VC, "-n", NS, "-o", "json")

    lab.ok("pause", VC, "-n", NS)
    assert lab.web_on_host() == []
    assert keys <= stored(pg, database)
    lab.ok("resume", VC, "-n", NS)
    the_data_is_inside(lab)
    wait_for("the web pods back on the host", lambda: two_web_pods_translated(lab))

    # subkube never deletes data in a store it does not run: a new vcluster on the same
    # database finds everything, and runs the tenant's pods again.
    lab.ok("delete", VC, "-n", NS)
    assert lab.web_on_host() == []
    assert not vc_dir.exists()
    assert keys <= stored(pg, database)
    lab.ok(*create)
    the_data_is_inside(lab)
    wait_for("the web pods on the host again", lambda: two_web_pods_translated(lab))
    lab.ok("delete", VC, "-n", NS, "--delete-namespace")
    assert keys <= stored(pg, database)


def test_a_database_kine_cannot_log_in_to_fails_create_in_one_line(lab: Lab, pg: Postgres) -> None:
    pg.create_database("vc_bad")
    wrong = pg.dsn("vc_bad", password="not-the-password")
    line = lab.fails(
        "create",
        "bad",
        "-n",
        "team-bad",
        "--no-connect",
        "--set",
        "controlPlane.backingStore.database.external.enabled=true",
        "--set",
        f"controlPlane.backingStore.database.external.dataSource={wrong}",
    )
    assert "kine cannot reach its database" in line
    assert 'password authentication failed for user "subkube"' in line
    assert "not-the-password" not in line
    lab.ok("delete", "bad", "-n", "team-bad", "--delete-namespace")
