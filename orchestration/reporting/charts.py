"""Charts as PNG bytes, drawn with matplotlib's Agg backend (no display, no browser)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date


def daily_chart(days: Sequence[date], series: Mapping[str, Sequence[int]], title: str) -> bytes:
    """One line per series over the days, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: never a GUI backend in a server or a CI run
    from matplotlib import pyplot as plt
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    figure, axes = plt.subplots(figsize=(9, 3.6), dpi=100)
    try:
        for name, values in series.items():
            axes.plot(days, values, marker="o", markersize=3, linewidth=1.6, label=name)
        locator = AutoDateLocator()
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        axes.set_title(title, loc="left", fontsize=11)
        axes.set_ylabel("email logs")
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.legend(loc="upper left", ncols=min(len(series), 5), fontsize=8, frameon=False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
