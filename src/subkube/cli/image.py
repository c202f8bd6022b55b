"""`subkube image`: build the runner image the Helm chart starts, and push it."""

import asyncio
from pathlib import Path

import typer
from rich.status import Status

from subkube.cli.output import console
from subkube.image import build as builder

app = typer.Typer(
    help="The runner image: build it (no Docker needed), push it.", no_args_is_help=True
)


@app.command("build")
def build_cmd(
    output: str = typer.Option(
        "",
        "--output",
        "-o",
        help="Where the OCI archive goes [default: dist/subkube-VERSION.oci.tar].",
    ),
    tag: str = typer.Option(
        "", "--tag", help="Image reference [default: subkube/subkube:VERSION]."
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild even if nothing changed."),
) -> None:
    """Build the runner image (mmdebstrap, podman): an OCI archive, and in podman's store."""
    with Status("building the image", console=console) as status:

        def step(name: str) -> None:
            status.update(f"building the image: {name}")
            console.print(f"  [dim]·[/dim] {name}", highlight=False)

        built = asyncio.run(
            builder.build(
                step, archive=Path(output) if output else None, reference=tag or None, force=force
            )
        )
    verb = "up to date" if built.cached else f"built in {built.seconds:.0f}s"
    console.print(
        f"[green]✓[/green] {built.reference} {verb}: {built.archive} "
        f"({built.size / 2**20:.0f} MiB)",
        highlight=False,
    )


@app.command("push")
def push_cmd(
    destination: str = typer.Argument(
        ..., help="A registry reference (registry:5000/org/subkube:0.1.0) or oci:DIR."
    ),
    tag: str = typer.Option(
        "", "--tag", help="The local image [default: subkube/subkube:VERSION]."
    ),
    tls_verify: bool = typer.Option(True, "--tls-verify/--no-tls-verify"),
) -> None:
    """Send the built image to a registry you name (or any podman transport)."""
    asyncio.run(builder.push(destination, source=tag or None, tls_verify=tls_verify))
    console.print(f"[green]✓[/green] pushed to {destination}", highlight=False)
