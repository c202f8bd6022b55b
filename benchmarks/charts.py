"""The PNG charts of docs/performance.md, drawn with matplotlib (no display needed)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

# The backend is chosen before pyplot loads.
import matplotlib.pyplot as plt


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def running_over_time(path: Path, title: str, series: dict[str, list[float]]) -> Path:
    """Pods Running against seconds since the first create, one line per side."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, times in series.items():
        ordered = sorted(times)
        ax.step(ordered, range(1, len(ordered) + 1), where="post", label=label)
    ax.set_xlabel("seconds since the first create")
    ax.set_ylabel("pods Running")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def latency_percentiles(path: Path, title: str, series: dict[str, list[float]]) -> Path:
    """Each series' latency (ms) against its percentile."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, values in series.items():
        ordered = sorted(values)
        if not ordered:
            continue
        ranks = [100 * (i + 1) / len(ordered) for i in range(len(ordered))]
        ax.plot(ranks, ordered, label=label)
    ax.set_xlabel("percentile")
    ax.set_ylabel("milliseconds")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return _save(fig, path)


def memory_against_pods(path: Path, title: str, points: list[tuple[int, float]]) -> Path:
    """RSS (MiB) against synced pods."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([p for p, _ in points], [m for _, m in points], marker="o")
    ax.set_xlabel("synced pods")
    ax.set_ylabel("syncer RSS (MiB)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def bars(path: Path, title: str, values: dict[str, float], unit: str) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(list(values), list(values.values()))
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=30)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)
