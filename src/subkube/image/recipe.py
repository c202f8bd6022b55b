"""What the runner image is made of: the one recipe (there is no Dockerfile to drift from it).

A Debian root filesystem from Debian's packages (no compilers, no Go, no package caches), the
project and its dependencies as installed Python packages, the pinned upstream binaries the
runner starts, and a non-root user. Everything here is data; `image.build` carries it out.
"""

import hashlib
import json
from pathlib import Path

from subkube import __version__

SUITE = "bookworm"
# python3 is the interpreter the project runs on (3.11 in bookworm, the version we develop
# on), tzdata backs schedule time zones, ca-certificates lets snapshots reach S3 over TLS.
PACKAGES = ("python3", "tzdata", "ca-certificates")
# Documentation and translations are never read in a container.
EXCLUDED_PATHS = (
    "/usr/share/doc/*",
    "/usr/share/man/*",
    "/usr/share/info/*",
    "/usr/share/locale/*",
)
# What `subkube run` starts, in the image; the local host's kwok, kubectl and helm are not.
RUNNER_BINARIES = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kine",
    "etcd",
    "etcdctl",
    "etcdutl",
)

APP_DIR = "/opt/subkube"
USER_ID = 65532
USER_NAME = "subkube"
HOME = "/data"
REPOSITORY = "subkube/subkube"
BUILD_KEY_LABEL = "io.subkube.build-key"


def reference(version: str = __version__) -> str:
    """The name the chart's default values ask for (`subkube/subkube:<appVersion>`), as it is
    stored locally."""
    return f"localhost/{REPOSITORY}:{version}"


def entry_script() -> str:
    """`subkube` in the image: the system interpreter, which finds the project's packages
    through PYTHONPATH (so does every `python3 -m subkube…` the runner execs itself into)."""
    return "#!/usr/bin/python3\nfrom subkube.cli import main\n\nmain()\n"


def image_config(key: str, version: str = __version__) -> list[str]:
    """The image's settings, as `podman import --change` instructions."""
    path = f"{APP_DIR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return [
        f'ENTRYPOINT ["{APP_DIR}/bin/subkube"]',
        f"USER {USER_ID}:{USER_ID}",
        f"WORKDIR {HOME}",
        f"ENV PATH={path}",
        f"ENV HOME={HOME}",
        f"ENV SUBKUBE_BIN_DIR={APP_DIR}/bin",
        f"ENV PYTHONPATH={APP_DIR}/lib",
        "ENV PYTHONUNBUFFERED=1",
        "EXPOSE 8443",
        f"LABEL org.opencontainers.image.title=subkube org.opencontainers.image.version={version}",
        f"LABEL {BUILD_KEY_LABEL}={key}",
    ]


def customize_hooks() -> list[str]:
    """mmdebstrap hooks (run with the root filesystem as $1): the user and its home."""
    return [
        f"echo '{USER_NAME}:x:{USER_ID}:{USER_ID}:subkube:{HOME}:/usr/sbin/nologin'"
        ' >> "$1/etc/passwd"',
        f"echo '{USER_NAME}:x:{USER_ID}:' >> \"$1/etc/group\"",
        f'mkdir -p "$1{HOME}" && chown {USER_ID}:{USER_ID} "$1{HOME}"',
    ]


def build_key(sources: list[Path], root: Path, binaries_manifest: str) -> str:
    """Changes whenever anything that goes into the image does: the recipe, the project's
    files, the pinned binaries."""
    digest = hashlib.sha256()
    recipe = [SUITE, PACKAGES, EXCLUDED_PATHS, RUNNER_BINARIES, APP_DIR, USER_ID, entry_script()]
    digest.update(json.dumps(recipe).encode())
    digest.update(binaries_manifest.encode())
    for path in sorted(sources):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:20]
