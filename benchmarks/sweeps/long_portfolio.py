"""Sweep: a portfolio of two long-context members against the one generalist, on validation origins.

The shipped generalist (``long_general``, 10,000 steps on the whole long-context corpus) is
compared with a second member trained for coarser sampling (``long_aggregated``: the same
architecture and corpus, but 80% of its training windows averaged over 2-24 steps instead
of 25%; 3,000 steps, seed 1), alone and together with the generalist (the forecaster
averages its long-context members' quantiles). Scored as
:mod:`benchmarks.sweeps.long_context` does: the whole-history benchmark's validation split
and the GIFT-Eval validation windows of the rebuilt ETT and Jena weather configs.

``python -m benchmarks.sweeps.long_portfolio --competition-zoo ZOO`` trains (or resumes,
in ``--cache``) the second member, assembles the zoos in a temporary folder and writes
``benchmarks/results/sweep_long_portfolio.{md,json}``; about 20 min of training on 2 CPUs.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.sweeps import long_context
from benchmarks.sweeps.common import OUT, write_results

#: the second member: corpus settings (:func:`seqfusion.training.corpus.load_corpus`) and training
CORPUS = {"aggregate": 0.8, "synthetic": 0.3}
TRAIN = {"steps": 3000, "seed": 1, "threads": 2, "warmup": 300}
NAME = "long_aggregated"


def second_member(cache: Path) -> Any:
    """Train (or resume) the second member in ``cache``; its :class:`~seqfusion.zoo.Member`."""
    from seqfusion.training.corpus import load_corpus
    from seqfusion.training.long_training import LongTrainConfig, member_from_checkpoint, train_long

    folder = cache / f"{NAME}-sweep"
    cfg = LongTrainConfig(**TRAIN)
    train_long({}, cfg, load_corpus(**CORPUS), folder)
    return member_from_checkpoint(folder, NAME)


def with_members(src: str, members: list[Any], out: Path) -> str:
    """Zoo ``src`` with exactly the long-context ``members``, saved to ``out``."""
    from seqfusion.zoo import Zoo

    zoo = Zoo.load(src)
    zoo.long_members = []
    for m in members:
        zoo.add_long(m)
    zoo.save(out)
    return str(out)


def run(zoo: str, competition_zoo: str, cache: Path) -> dict[str, Any]:
    from seqfusion.zoo import Zoo

    second = second_member(cache)
    general, general_competition = Zoo.load(zoo).long_members, Zoo.load(competition_zoo).long_members
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        variants = {
            "long_general alone (shipped)": (zoo, competition_zoo, "mean"),
            "long_general + long_aggregated (mean of both)": (
                with_members(zoo, [*general, second], folder / "both_default"),
                with_members(competition_zoo, [*general_competition, second], folder / "both_competition"), "mean"),
            "long_aggregated alone": (with_members(zoo, [second], folder / "second_default"),
                                      with_members(competition_zoo, [second], folder / "second_competition"), "mean"),
        }
        return long_context.run(variants)


def markdown(res: dict[str, Any]) -> str:
    text = long_context.markdown(res)
    first = (__doc__ or "").split("\n\n")[0].replace("\n", " ")
    return text.replace("# Sweep: long-context members in the whole-history layer",
                        "# Sweep: a portfolio of long-context members", 1).replace(
        (long_context.__doc__ or "").split("\n\n")[0].replace("\n", " "), first, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--zoo", default="src/seqfusion/default_zoo")
    ap.add_argument("--competition-zoo", required=True, help="the zoo built without M3/M4/Tourism")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "seqfusion" / "build" / "long")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    started = time.perf_counter()
    res = run(args.zoo, args.competition_zoo, args.cache)
    res["second_member"] = {"name": NAME, "corpus": CORPUS, "train": TRAIN}
    write_results("long_portfolio", res, markdown, args.out, argv, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
