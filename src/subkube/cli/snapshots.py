"""`subkube snapshot create` and `subkube restore`: a vcluster's store and config to a file
or an S3 bucket, and back, into the same vcluster or a new one."""

import asyncio

import typer

from subkube.cli.contexts import connect_or_show
from subkube.cli.options import NAMESPACE
from subkube.cli.output import console, warn
from subkube.lifecycle import commands
from subkube.runner.state import load_state
from subkube.snapshot.urls import S3Settings

app = typer.Typer(help="Snapshots of a vcluster's store and config.", no_args_is_help=True)

S3_HELP = "S3 {}; default: as the AWS CLI reads it from the environment ({})."
S3_ENDPOINT = typer.Option(
    "", "--s3-endpoint", help=S3_HELP.format("endpoint URL", "AWS_ENDPOINT_URL_S3, …")
)
S3_REGION = typer.Option(
    "", "--s3-region", help=S3_HELP.format("region", "AWS_REGION, …; else us-east-1")
)
S3_PROFILE = typer.Option(
    "", "--s3-profile", help=S3_HELP.format("profile of ~/.aws/config", "AWS_PROFILE")
)
S3_ACCESS_KEY = typer.Option(
    "", "--s3-access-key", help=S3_HELP.format("access key", "AWS_ACCESS_KEY_ID")
)
S3_SECRET_KEY = typer.Option(
    "",
    "--s3-secret-key",
    help="S3 secret key, with --s3-access-key (AWS_SECRET_ACCESS_KEY is better: no process "
    "list shows it).",
)


def _s3(endpoint: str, region: str, profile: str, access_key: str, secret_key: str) -> S3Settings:
    return S3Settings(
        endpoint=endpoint,
        region=region,
        profile=profile,
        access_key=access_key,
        secret_key=secret_key,
    )


@app.command("create")
def create(
    name: str = typer.Argument(..., help="vcluster name."),
    namespace: str = NAMESPACE,
    to: str = typer.Option(
        ...,
        "--to",
        help="file:///path/name.tar.gz or s3://bucket/key; ending in / names a directory or "
        "prefix, where the archive is named <vcluster>.<namespace>.<UTC time>.tar.gz.",
    ),
    s3_endpoint: str = S3_ENDPOINT,
    s3_region: str = S3_REGION,
    s3_profile: str = S3_PROFILE,
    s3_access_key: str = S3_ACCESS_KEY,
    s3_secret_key: str = S3_SECRET_KEY,
) -> None:
    """Write a consistent snapshot of a vcluster's store and config, while it runs."""
    s3 = _s3(s3_endpoint, s3_region, s3_profile, s3_access_key, s3_secret_key)
    with console.status(f"taking a snapshot of vcluster [bold]{name}[/bold]…"):
        loc = asyncio.run(commands.snapshot(name, namespace, to, s3))
    console.print(f"[green]✓[/green] snapshot of vcluster [bold]{name}[/bold] written to {loc}")


def restore(
    name: str = typer.Argument(..., help="vcluster to restore (its name inside the snapshot)."),
    namespace: str = typer.Option(
        ..., "--namespace", "-n", help="Host namespace of the vcluster restored into."
    ),
    from_: str = typer.Option(
        ..., "--from", help="The snapshot: file:///path/name.tar.gz or s3://bucket/key."
    ),
    as_: str | None = typer.Option(
        None, "--as", help="Restore into a new vcluster of this name (in --namespace)."
    ),
    driver: str = typer.Option(
        "local", "--driver", help="For a new vcluster: local (run it here) or helm."
    ),
    kubeconfig: str | None = typer.Option(
        None, "--kubeconfig", help="Host kubeconfig for a new vcluster (default: $KUBECONFIG)."
    ),
    context: str | None = typer.Option(None, "--context", help="Context of the host kubeconfig."),
    timeout: float = typer.Option(180.0, "--timeout", help="Seconds to wait for readiness."),
    connect_: bool | None = typer.Option(
        None,
        "--connect/--no-connect",
        help="Make it the current kubeconfig context (default: for a new vcluster).",
    ),
    s3_endpoint: str = S3_ENDPOINT,
    s3_region: str = S3_REGION,
    s3_profile: str = S3_PROFILE,
    s3_access_key: str = S3_ACCESS_KEY,
    s3_secret_key: str = S3_SECRET_KEY,
) -> None:
    """Run a vcluster on a snapshot: an existing one goes back to the snapshot's objects
    (keeping its config); a missing one, or a new one named by --as, is created with the
    snapshot's config. The syncer then makes the host match."""
    target = as_ or name
    existed = load_state(namespace, target) is not None
    with console.status(f"restoring vcluster [bold]{target}[/bold] in {namespace}…") as status:
        state, meta = asyncio.run(
            commands.restore(
                name,
                namespace,
                from_,
                as_=as_,
                s3=_s3(s3_endpoint, s3_region, s3_profile, s3_access_key, s3_secret_key),
                kubeconfig=kubeconfig,
                context=context,
                driver=driver,
                timeout=timeout,
                on_phase=lambda p: status.update(f"vcluster {target}: {p}…"),
                on_warning=warn,
            )
        )
    console.print(
        f"[green]✓[/green] vcluster [bold]{target}[/bold] in {namespace} runs on the snapshot "
        f"of {meta.namespace}/{meta.vcluster} taken {meta.created}"
    )
    connect_or_show(state, connect_ if connect_ is not None else not existed)
