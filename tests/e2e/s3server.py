"""A real S3-compatible server for tests: the pinned versitygw over a temp directory."""

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from subkube.controlplane.ports import free_port
from subkube.snapshot.urls import S3Settings
from tests.conftest import require_binary

ACCESS_KEY = "subkube-test"
SECRET_KEY = "subkube-test-secret"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    data_dir: Path

    @property
    def settings(self) -> S3Settings:
        return S3Settings(endpoint=self.endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY)

    @property
    def env(self) -> dict[str, str]:
        """The variables the AWS CLI reads, pointing at this server."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def bucket(self, name: str) -> Path:
        """Every directory of versitygw's posix backend is a bucket."""
        path = self.data_dir / name
        path.mkdir(exist_ok=True)
        return path


@contextlib.contextmanager
def versitygw(root: Path) -> Iterator[S3Server]:
    """versitygw on a free loopback port, serving ROOT/data; stopped however the test ends."""
    data = root / "data"
    data.mkdir(parents=True)
    port = free_port()
    log = (root / "versitygw.log").open("wb")
    proc = subprocess.Popen(
        [
            str(require_binary("versitygw")),
            "--port",
            f"127.0.0.1:{port}",
            "--quiet",
            "posix",
            str(data),
        ],
        env={"ROOT_ACCESS_KEY": ACCESS_KEY, "ROOT_SECRET_KEY": SECRET_KEY},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"versitygw exited ({proc.returncode}): {(root / 'versitygw.log').read_text()}"
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            if time.monotonic() > deadline:
                pytest.fail("versitygw did not listen within 30s")
            time.sleep(0.1)
        yield S3Server(f"http://127.0.0.1:{port}", data)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
