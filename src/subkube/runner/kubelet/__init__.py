"""The kubelet API of a vcluster's nodes, answered by the runner for the tenant's pods."""
