"""Options several commands take, spelled and explained once."""

import typer

NAMESPACE = typer.Option(..., "--namespace", "-n", help="Host namespace of the vcluster.")
KUBECONFIG = typer.Option(None, "--kubeconfig", help="Host kubeconfig (default: $KUBECONFIG).")
CONTEXT = typer.Option(None, "--context", help="Context of the host kubeconfig.")
