"""Draw docs/shapes.png: what the shipped default zoo does with clean shapes (a sine, a
period-24 cycle over a long horizon, a ramp, a random walk, a monthly season with trend).

Run: ``python docs/shapes.py`` (needs the ``plot`` extra). The numbers quoted in the
README are checked by tests/test_documented_shapes.py.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from seqfusion import SeqFusion  # noqa: E402


def main() -> Path:
    model = SeqFusion.from_pretrained(history="last")  # the zoo alone, as the README section says
    rng = np.random.default_rng(0)
    t = np.arange(400)
    cases = [
        ("sine sin(t/3), H=10", np.sin(t[:100] / 3), np.sin(t[100:110] / 3), None),
        ("period-24 cycle, H=1000 (freq h)", np.sin(2 * np.pi * t[:240] / 24),
         np.sin(2 * np.pi * np.arange(240, 1240) / 24), "h"),
        ("ramp 0..39, H=10", np.arange(40.0), np.arange(40.0, 50.0), None),
        ("random walk, H=20", np.cumsum(rng.normal(size=200)), None, None),
        ("monthly season + trend, H=24 (freq MS)", 5 + np.sin(2 * np.pi * t[:120] / 12) + 0.05 * t[:120],
         5 + np.sin(2 * np.pi * t[120:144] / 12) + 0.05 * t[120:144], "MS"),
    ]
    fig, axes = plt.subplots(len(cases), 1, figsize=(9, 2.2 * len(cases)))
    for ax, (title, x, truth, freq) in zip(axes, cases):
        h = len(truth) if truth is not None else 20
        f = model.predict(x, h, freq=freq)
        tail = min(len(x), 120)
        hx = np.arange(len(x) - tail, len(x))
        fx = np.arange(len(x), len(x) + h)
        ax.plot(hx, x[-tail:], color="0.3", lw=1.2, label="history")
        if truth is not None:
            ax.plot(fx, truth, color="0.6", lw=1, ls="--", label="truth")
        ax.plot(fx, f, color="tab:orange", lw=1.6, label="seqfusion")
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    out = Path(__file__).resolve().parent / "shapes.png"
    fig.savefig(out, dpi=90)
    return out


if __name__ == "__main__":
    print(main())
