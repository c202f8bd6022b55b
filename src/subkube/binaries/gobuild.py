"""Build upstream binaries from their Go modules with the local Go toolchain."""

import asyncio
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from subkube.binaries import kwokpatch
from subkube.binaries.pins import GoModulePin, KubernetesPin
from subkube.errors import SubkubeError

OnLine = Callable[[str], None]

_NETWORK_HINTS = (
    "dial tcp",
    "i/o timeout",
    "no such host",
    "connection refused",
    "404 Not Found",
    "410 Gone",
    "reading https://",
    "TLS handshake",
    "GOPROXY=off",
    "GOFLAGS=-mod=vendor",
)

# kine's own release build (scripts/build in its repository) uses these tags for SQLite.
KINE_TAGS = (
    "nats,sqlite_unlock_notify,sqlite_vtable,sqlite_stat4,sqlite_preupdate_hook,"
    "sqlite_math_functions,sqlite_dbstat,sqlite_column_metadata"
)


def go_binary() -> str:
    go = shutil.which("go")
    if go is None:
        raise SubkubeError(
            "the Go toolchain (`go`) is not on PATH: install Go 1.25 or newer, or point "
            "SUBKUBE_BIN_DIR at ready-built kube-apiserver, kube-controller-manager, "
            "kube-scheduler, kine and kwok"
        )
    return go


async def run_go(
    args: list[str],
    *,
    cwd: Path,
    log: Path,
    what: str,
    env: dict[str, str] | None = None,
    on_line: OnLine | None = None,
) -> str:
    """Run `go ARGS`, teeing output to LOG; raise a one-line SubkubeError on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    # Keep the user's own GOFLAGS (say -modcacherw) and add ours.
    if env and "GOFLAGS" in env:
        full_env["GOFLAGS"] = f"{os.environ.get('GOFLAGS', '')} {env['GOFLAGS']}".strip()
    proc = await asyncio.create_subprocess_exec(
        go_binary(),
        *args,
        cwd=cwd,
        env=full_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    with log.open("a") as fh:
        fh.write(f"$ go {' '.join(args)}\n")
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            fh.write(line + "\n")
            lines.append(line)
            if on_line:
                on_line(line)
    code = await proc.wait()
    if code != 0:
        raise SubkubeError(_explain_failure(what, lines, log))
    return "\n".join(lines)


def _explain_failure(what: str, lines: list[str], log: Path) -> str:
    errors = [ln for ln in lines if ln.strip()]
    last = errors[-1].strip() if errors else "no output"
    if any(h in ln for ln in errors for h in _NETWORK_HINTS):
        cause = next(ln for ln in errors if any(h in ln for h in _NETWORK_HINTS)).strip()
        return (
            f"downloading Go modules for {what} failed ({cause}); check access to the Go "
            f"module proxy (GOPROXY) and retry `subkube binaries install`; full log: {log}"
        )
    return f"go build of {what} failed ({last}); full log: {log}"


async def downloaded_path(module: str, version: str, field: str, *, cwd: Path, log: Path) -> Path:
    """Download MODULE@VERSION into the module cache; FIELD of `go mod download -json`
    ("Dir": the source tree, "GoMod": its go.mod)."""
    info = await run_go(
        ["mod", "download", "-json", f"{module}@{version}"],
        cwd=cwd,
        log=log,
        what=f"{module} {version}",
    )
    found = re.search(rf'"{field}":\s*"([^"]+)"', info)
    if found is None:
        raise SubkubeError(f"`go mod download` gave no {field} for {module} {version}: {log}")
    return Path(found.group(1))


def version_ldflags(package_prefixes: list[str], values: dict[str, str]) -> str:
    return " ".join(
        f"-X '{pkg}.{key}={val}'" for pkg in package_prefixes for key, val in values.items()
    )


def wrapper_gomod(module: str, upstream_gomod: str, require: str, replaces: list[str]) -> str:
    """go.mod of a generated module that builds commands of the module it requires.

    The upstream module's `go` and `godebug` lines carry over, so runtime defaults match the
    upstream's own build.
    """
    go_line = re.search(r"^go\s+(\S+)", upstream_gomod, re.M)
    godebug = re.findall(r"^godebug\s+.*$", upstream_gomod, re.M)
    out = [
        f"module {module}",
        "",
        f"go {go_line.group(1) if go_line else '1.25'}",
        "",
        *godebug,
        "",
        f"require {require}",
        "",
        "replace (",
        *(f"\t{r}" for r in replaces),
        ")",
        "",
    ]
    return "\n".join(out)


def kubernetes_wrapper_gomod(pin: KubernetesPin, upstream_gomod: str) -> str:
    """go.mod of a module that requires k8s.io/kubernetes and pins its staging modules.

    k8s.io/kubernetes points its staging modules at ./staging/... with replace directives,
    which Go ignores in a dependency; the wrapper replaces each with its published v0.X.Y tag.
    """
    staging = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", upstream_gomod, re.M)
    if not staging:
        raise SubkubeError(
            f"k8s.io/kubernetes {pin.version} lists no staging modules in its go.mod; "
            "pick another version in versions.toml"
        )
    return wrapper_gomod(
        "subkube.local/toolchain/kubernetes",
        upstream_gomod,
        f"k8s.io/kubernetes {pin.version}",
        [f"{m} => {m} {pin.staging_version}" for m in sorted(set(staging))],
    )


def kubernetes_ldflags(pin: KubernetesPin) -> str:
    """The -X flags Kubernetes' own hack/lib/version.sh sets, so --version prints the release."""
    major, minor, _ = pin.version.lstrip("v").split(".")
    values = {
        "gitVersion": pin.version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
    }
    prefixes = ["k8s.io/client-go/pkg/version", "k8s.io/component-base/version"]
    return "-s -w " + version_ldflags(prefixes, values)


async def build_kubernetes(
    pin: KubernetesPin, build_root: Path, out_dir: Path, on_line: OnLine | None = None
) -> None:
    work = build_root / f"kubernetes-{pin.version}"
    work.mkdir(parents=True, exist_ok=True)
    log = build_root / "logs" / f"kubernetes-{pin.version}.log"
    log.unlink(missing_ok=True)
    gomod = await downloaded_path("k8s.io/kubernetes", pin.version, "GoMod", cwd=work, log=log)
    upstream = gomod.read_text()
    (work / "go.mod").write_text(kubernetes_wrapper_gomod(pin, upstream))
    (work / "go.sum").touch()
    pkgs = [f"k8s.io/kubernetes/cmd/{name}" for name in pin.binaries]
    await run_go(
        ["get", *(f"{p}@{pin.version}" for p in pkgs)],
        cwd=work,
        log=log,
        what=f"k8s.io/kubernetes {pin.version}",
        on_line=on_line,
    )
    await build_in_wrapper(
        work,
        pkgs,
        out_dir,
        ldflags=kubernetes_ldflags(pin),
        log=log,
        what=f"Kubernetes {pin.version} ({', '.join(pin.binaries)})",
        on_line=on_line,
    )


async def build_in_wrapper(
    work: Path,
    pkgs: list[str],
    out_dir: Path,
    *,
    ldflags: str,
    log: Path,
    what: str,
    flags: tuple[str, ...] = (),
    on_line: OnLine | None = None,
) -> None:
    """`go build` PKGS into OUT_DIR from the wrapper module in WORK."""
    out_dir.mkdir(parents=True, exist_ok=True)
    await run_go(
        ["build", "-v", "-trimpath", *flags, "-ldflags", ldflags, "-o", f"{out_dir}/", *pkgs],
        cwd=work,
        log=log,
        what=what,
        env={"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod -buildvcs=false"},
        on_line=on_line,
    )


async def go_install(
    pin: GoModulePin,
    package: str,
    build_root: Path,
    out_dir: Path,
    *,
    ldflags: str,
    tags: str = "",
    cgo: bool = False,
    env: dict[str, str] | None = None,
    on_line: OnLine | None = None,
) -> None:
    """`go install PACKAGE@VERSION` into OUT_DIR: for modules without replace directives."""
    log = build_root / "logs" / f"{package.rsplit('/', 1)[-1]}-{pin.version}.log"
    log.unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    args = ["install", "-v", "-trimpath", "-ldflags", ldflags]
    if tags:
        args += ["-tags", tags]
    await run_go(
        [*args, f"{package}@{pin.version}"],
        cwd=build_root,
        log=log,
        what=f"{pin.module} {pin.version}",
        env={
            "GOBIN": str(out_dir),
            "CGO_ENABLED": "1" if cgo else "0",
            "GOFLAGS": "-buildvcs=false",
            **(env or {}),
        },
        on_line=on_line,
    )


async def build_kine(
    pin: GoModulePin, build_root: Path, out_dir: Path, on_line: OnLine | None = None
) -> None:
    if shutil.which(os.environ.get("CC", "cc")) is None:
        raise SubkubeError(
            "kine needs a C compiler for its SQLite driver (CGO): install gcc (apt-get install "
            "gcc) or set CC"
        )
    ldflags = "-s -w " + version_ldflags(
        ["github.com/k3s-io/kine/pkg/version"], {"Version": pin.version, "GitCommit": pin.version}
    )
    await go_install(
        pin,
        pin.module,
        build_root,
        out_dir,
        ldflags=ldflags,
        tags=KINE_TAGS,
        cgo=True,
        env={"CGO_CFLAGS": "-DSQLITE_ENABLE_DBSTAT_VTAB=1 -DSQLITE_USE_ALLOCA=1"},
        on_line=on_line,
    )


async def build_versitygw(
    pin: GoModulePin, build_root: Path, out_dir: Path, on_line: OnLine | None = None
) -> None:
    # versitygw's own release build stamps main.Version and main.Build, which --version prints.
    ldflags = "-s -w " + version_ldflags(["main"], {"Version": pin.version, "Build": pin.version})
    await go_install(
        pin, f"{pin.module}/cmd/versitygw", build_root, out_dir, ldflags=ldflags, on_line=on_line
    )


KWOK_STAGES_FILE = "kwok-stages.yaml"
# kwok does nothing without Stage objects; these are the ones its own kwokctl applies by
# default (nodes become Ready and renew leases, pods become Running and are removed on delete).
KWOK_STAGE_SETS = ("node/fast", "node/heartbeat-with-lease", "pod/fast")
KWOK_CRDS_FILE = "kwok-crds.yaml"
# The kwok kinds a local host serves (kind: plural). The cluster-wide ones give every simulated
# pod logs, attach, exec and port-forward; the namespaced ones let the pods the host runs as
# local processes reach those processes instead (kwok prefers a pod's own object).
KWOK_CRDS = {
    "ClusterLogs": "clusterlogs",
    "ClusterAttach": "clusterattaches",
    "ClusterExec": "clusterexecs",
    "ClusterPortForward": "clusterportforwards",
    "Logs": "logs",
    "Attach": "attaches",
    "Exec": "execs",
    "PortForward": "portforwards",
}


def kwok_build_key() -> str:
    """What the kwok group is built from besides its pin: the patch and the data files' picks."""
    crds, stages = ",".join(KWOK_CRDS), ",".join(KWOK_STAGE_SETS)
    return f"patch {kwokpatch.fingerprint()} crds {crds} stages {stages}"


async def build_kwok(
    pin: GoModulePin, build_root: Path, out_dir: Path, on_line: OnLine | None = None
) -> None:
    """`go build` kwok with subkube's patch from a wrapper module that replaces the kwok module
    with a symlink to its downloaded source: Go refuses overlays of files in its module cache,
    and the link gives those files paths outside it."""
    work = build_root / f"kwok-{pin.version}"
    log = build_root / "logs" / f"kwok-{pin.version}.log"
    log.unlink(missing_ok=True)
    source = await downloaded_path(pin.module, pin.version, "Dir", cwd=build_root, log=log)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "kwok").symlink_to(source, target_is_directory=True)
    overlay = kwokpatch.write_overlay(source, work / "kwok", work / "overlay", pin.version)
    upstream = (source / "go.mod").read_text()
    (work / "go.mod").write_text(
        wrapper_gomod(
            "subkube.local/toolchain/kwok",
            upstream,
            f"{pin.module} {pin.version}",
            [f"{pin.module} => ./kwok"],
        )
    )
    # kwok's own checksums: the wrapper adds no module, so the build needs no download.
    (work / "go.sum").write_text((source / "go.sum").read_text())
    await build_in_wrapper(
        work,
        [f"{pin.module}/cmd/kwok"],
        out_dir,
        ldflags="-s -w "
        + version_ldflags(["sigs.k8s.io/kwok/pkg/consts"], {"Version": pin.version}),
        log=log,
        what=f"{pin.module} {pin.version}",
        flags=("-overlay", str(overlay)),
        on_line=on_line,
    )
    (out_dir / KWOK_STAGES_FILE).write_text(kwok_stages(source))
    (out_dir / KWOK_CRDS_FILE).write_text(kwok_crds(source))


def kwok_stages(module_dir: Path) -> str:
    """Concatenate the default stage sets, in the order their kustomizations list them."""
    docs = []
    for stage_set in KWOK_STAGE_SETS:
        base = module_dir / "kustomize" / "stage" / stage_set
        kustomization = (base / "kustomization.yaml").read_text()
        for name in re.findall(r"^\s*-\s*(\S+\.yaml)\s*$", kustomization, re.M):
            docs.append((base / name).read_text().strip())
    if not docs:
        raise SubkubeError(f"no kwok stages found under {module_dir}/kustomize/stage")
    return "\n---\n".join(docs) + "\n"


def kwok_crds(module_dir: Path) -> str:
    base = module_dir / "kustomize" / "crd" / "bases"
    paths = [base / f"kwok.x-k8s.io_{plural}.yaml" for plural in KWOK_CRDS.values()]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise SubkubeError(f"kwok CRDs {', '.join(missing)} not found under {base}")
    return "\n---\n".join(p.read_text().strip().removeprefix("---").strip() for p in paths) + "\n"
