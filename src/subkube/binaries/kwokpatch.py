"""subkube's five small changes to kwok's source, applied with `go build -overlay`.

Each change is an exact-string replacement in one upstream file, so a kwok version whose code
moved fails the build with a message naming the file, instead of building something else.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from subkube.errors import SubkubeError


@dataclass(frozen=True)
class Replacement:
    path: str  # relative to the module root
    old: str
    new: str


_SERVER = "pkg/kwok/server"

REPLACEMENTS = (
    # a. kwok wraps the command's *exec.ExitError with fmt.Errorf, which hides it from
    # cri-streaming: `kubectl exec` would always exit 1.
    Replacement(
        f"{_SERVER}/debugging_exec.go",
        "\tif tty {\n"
        "\t\treturn s.execInContainerWithTTY(ctx, cmd, in, stdout, resize)\n"
        "\t}\n\n"
        "\treturn s.execInContainer(ctx, cmd, in, stdout, stderr)\n",
        "\tif tty {\n"
        "\t\treturn exitCodeError(s.execInContainerWithTTY(ctx, cmd, in, stdout, resize))\n"
        "\t}\n\n"
        "\treturn exitCodeError(s.execInContainer(ctx, cmd, in, stdout, stderr))\n",
    ),
    # b. One cluster-wide rule per kind serves every pod: its paths name the pod's own files.
    Replacement(
        f"{_SERVER}/debugging_exec.go",
        "ctx = utilsexec.WithDir(ctx, execTarget.Local.WorkDir)",
        "ctx = utilsexec.WithDir(ctx, "
        "expandPodPath(execTarget.Local.WorkDir, podNamespace, podName, container))",
    ),
    Replacement(
        f"{_SERVER}/debugging_logs.go",
        "\t\tlogsFile = log.PreviousLogsFile\n\t}\n",
        "\t\tlogsFile = log.PreviousLogsFile\n\t}\n"
        "\tlogsFile = expandPodPath(logsFile, podNamespace, podName, container)\n",
    ),
    Replacement(
        f"{_SERVER}/debugging_attach.go",
        "logsFile := attach.LogsFile",
        "logsFile := expandPodPath(attach.LogsFile, podNamespace, podName, containerName)",
    ),
    # c. kwok copies the client's stdin into the command but never closes it at the end, so a
    # command reading to end of input (`cat`, `tar -x` of `kubectl cp`) would never finish.
    Replacement(
        "pkg/utils/exec/exec.go",
        "\t\t\t\t_, _ = io.Copy(inPipe, opt.In)\n",
        "\t\t\t\t_, _ = io.Copy(inPipe, opt.In)\n\t\t\t\t_ = inPipe.Close()\n",
    ),
    # d. When one end of a forwarded connection closes first, the other end's last bytes meet
    # a closed socket; kwok reported that as the stream's error, on which kubectl
    # port-forward exits ("lost connection to pod"). Kubelets end such a stream quietly.
    Replacement(
        f"{_SERVER}/debugging_port_forword.go",
        "\t\treturn utilsnet.Tunnel(ctx, stream, dial, buf1, buf2)\n",
        "\t\treturn peerGone(utilsnet.Tunnel(ctx, stream, dial, buf1, buf2))\n",
    ),
    # e. A pod the local host runs as a real container is entered through its engine
    # (`podman exec`): an Exec rule names that command in an env var the patch consumes.
    Replacement(
        f"{_SERVER}/debugging_exec.go",
        "\t// Set cancel context.\n",
        "\tcmd = execPrefix(execTarget.Local.Envs, cmd, tty)\n\n\t// Set cancel context.\n",
    ),
)

# The helpers the replacements call, as one new file of the same package.
ADDED = {
    f"{_SERVER}/subkube_overlay.go": """package server

import (
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"strings"
	"syscall"

	utilexec "k8s.io/utils/exec"

	"sigs.k8s.io/kwok/pkg/apis/internalversion"
)

// execPrefix puts the command after the argv held in the rule's SUBKUBE_EXEC_PREFIX (a JSON
// list); its element "{tty}" becomes "-t" for a terminal session and is dropped otherwise.
func execPrefix(envs []internalversion.EnvVar, cmd []string, tty bool) []string {
	for _, env := range envs {
		if env.Name != "SUBKUBE_EXEC_PREFIX" {
			continue
		}
		var prefix []string
		if json.Unmarshal([]byte(env.Value), &prefix) != nil {
			return cmd
		}
		out := make([]string, 0, len(prefix)+len(cmd))
		for _, arg := range prefix {
			if arg == "{tty}" {
				if tty {
					out = append(out, "-t")
				}
				continue
			}
			out = append(out, arg)
		}
		return append(out, cmd...)
	}
	return cmd
}

// exitCodeError gives cri-streaming the error type it reads an exit code from.
func exitCodeError(err error) error {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		return utilexec.CodeExitError{Err: err, Code: exitErr.ExitCode()}
	}
	return err
}

// peerGone drops the error of a forwarded connection whose other end had already closed.
func peerGone(err error) error {
	for _, gone := range []error{syscall.EPIPE, syscall.ECONNRESET, net.ErrClosed} {
		if errors.Is(err, gone) {
			return nil
		}
	}
	return err
}

// expandPodPath makes one rule's path name each pod's and container's own file.
func expandPodPath(path, namespace, name, container string) string {
	return strings.NewReplacer(
		"$(POD_NAMESPACE)", namespace,
		"$(POD_NAME)", name,
		"$(CONTAINER_NAME)", container,
	).Replace(path)
}
""",
}


def fingerprint() -> str:
    """Changes whenever the patch does, so the build cache knows to rebuild kwok."""
    data = json.dumps([[asdict(r) for r in REPLACEMENTS], ADDED], sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def patched_files(module_dir: Path, version: str) -> dict[str, str]:
    """The content of every file the patch changes or adds, by path relative to MODULE_DIR."""
    out: dict[str, str] = {}
    for r in REPLACEMENTS:
        text = out.get(r.path)
        if text is None:
            try:
                text = (module_dir / r.path).read_text()
            except OSError:
                text = ""
        if text.count(r.old) != 1:
            raise SubkubeError(
                f"kwok {version} does not contain, exactly once, the code subkube patches in "
                f"{r.path}; adapt src/subkube/binaries/kwokpatch.py to it or pin another kwok "
                "version in versions.toml"
            )
        out[r.path] = text.replace(r.old, r.new)
    clashes = [p for p in ADDED if (module_dir / p).exists()]
    if clashes:
        raise SubkubeError(
            f"kwok {version} already has {', '.join(clashes)}; rename the file subkube adds in "
            "src/subkube/binaries/kwokpatch.py"
        )
    return {**out, **ADDED}


def write_overlay(module_dir: Path, seen_as: Path, out_dir: Path, version: str) -> Path:
    """Write the patched files into OUT_DIR and the overlay file that substitutes them for
    the module's files as the build sees them (under SEEN_AS); return the overlay file."""
    replace = {}
    for rel, text in patched_files(module_dir, version).items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        replace[str(seen_as / rel)] = str(target)
    overlay = out_dir / "overlay.json"
    overlay.write_text(json.dumps({"Replace": replace}, indent=2, sort_keys=True))
    return overlay
