"""Command-line interface: ``seqfusion forecast|zoo``."""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqfusion.errors import SeqFusionError
from seqfusion.options import FUSIONS, HISTORIES, NORMALIZATIONS, SELECTIONS, Options

if TYPE_CHECKING:  # pandas is imported by the commands that read data, inside main's error handling
    import pandas as pd


def _read_input(path: str, fmt: str, dayfirst: bool | None, date_format: str | None,
                sep: str | None = None, decimal: str | None = None) -> tuple[pd.DataFrame, str]:
    """Read a CSV / Parquet file and its time column (once, with the date options)."""
    import pandas as pd

    from seqfusion.files import read_table
    from seqfusion.frames import LONG_COLUMNS, TIME_COLUMNS, to_datetime

    df = read_table(path, sep, decimal)
    if fmt == "auto":
        fmt = "long" if set(LONG_COLUMNS) <= set(df.columns) else "wide"
    if fmt == "long":
        missing = set(LONG_COLUMNS) - set(df.columns)
        if missing:
            raise SeqFusionError(f"{path}: long format needs columns unique_id, ds, y (missing {sorted(missing)})")
        time_col: str | None = "ds"
    else:
        time_col = next((c for c in TIME_COLUMNS if c in df.columns), None)
    if time_col is not None and not pd.api.types.is_numeric_dtype(df[time_col]):
        df[time_col] = to_datetime(df[time_col], time_col, dayfirst, date_format)
    return df, fmt


def _history_and_forecast(df: pd.DataFrame, out: pd.DataFrame, fmt: str
                          ) -> tuple[dict[Any, Any], dict[Any, Any]]:
    import pandas as pd

    from seqfusion.frames import parse

    parsed = parse(df)
    hist = {}
    for name, s, idx in zip(parsed.names, parsed.series, parsed.index):
        hist[name] = (idx if idx is not None else pd.RangeIndex(len(s)), s)
    fc = {}
    if fmt == "long":
        for name, g in out.groupby("unique_id", sort=False):
            fc[name] = (pd.Index(g["ds"]), g["y"].to_numpy())
    else:
        time_col = parsed.time_column
        idx = pd.Index(out[time_col]) if time_col else out.index
        for name in parsed.names:
            fc[name] = (idx, out[name].to_numpy())
    return hist, fc


def _streamable(args: argparse.Namespace) -> bool:
    """Whether the input is long format (by its header) and read chunk by chunk."""
    from seqfusion.frames import LONG_COLUMNS
    from seqfusion.stream import columns

    if args.format == "wide" or args.plot or args.explain or not Path(args.input).exists():
        return False
    try:
        from seqfusion.files import csv_options, is_parquet

        csv = None if is_parquet(args.input) else csv_options(args.input, args.sep, args.decimal)
        return set(LONG_COLUMNS) <= set(columns(args.input, csv))
    except SeqFusionError:
        return False  # the in-memory reader says what is wrong, as before


def _check_engine_options(args: argparse.Namespace) -> None:
    if args.engine != "dask" and (args.workers is not None or args.scheduler is not None):
        raise SeqFusionError("--workers and --scheduler need --engine dask")
    if args.engine != "dask" and args.overwrite:
        raise SeqFusionError("--overwrite needs --engine dask (the local engine replaces an output file whole)")
    if args.engine == "dask":
        if args.workers is not None and args.scheduler is not None:
            raise SeqFusionError("give --workers (a local cluster) or --scheduler (an existing one), not both")
        if args.plot or args.explain:
            raise SeqFusionError("--plot and --explain need --engine local")
        if args.on_error != "fail":
            raise SeqFusionError("--on-error skip needs --engine local")
        if args.format == "wide":
            raise SeqFusionError("--format wide needs --engine local (--engine dask reads long input)")
        if not args.output or args.output == "-":
            raise SeqFusionError("--engine dask writes a Parquet folder: give --output")


def cmd_forecast(args: argparse.Namespace) -> int:
    from seqfusion.files import check_output, write_table
    from seqfusion.forecaster import SeqFusion
    from seqfusion.frames import TIME_COLUMNS

    _check_engine_options(args)
    if args.engine == "dask":
        from seqfusion.dask import forecast_cli

        return forecast_cli(args)
    if args.output and args.output != "-":
        check_output(args.output, [args.input], "--output")
    if args.future and args.explain:
        raise SeqFusionError("--explain does not cover covariates (--future)")
    if args.plot:
        from seqfusion.plotting import image_suffixes

        check_output(args.plot, [args.input], "--plot", image_suffixes())
        if args.output and Path(args.plot).resolve() == Path(args.output).resolve():
            raise SeqFusionError("--plot and --output name the same file")
    stream = _streamable(args)
    if args.on_error == "skip" and not stream:
        raise SeqFusionError("--on-error skip needs long-format input (unique_id, ds, y) without --plot/--explain")
    if stream and args.on_error == "skip" and args.output and args.output != "-":
        from seqfusion.stream import errors_path

        check_output(errors_path(args.output), [args.input], "errors file")
    future = None
    if args.future:
        from seqfusion.covariates import read_future

        future = read_future(args.future, args.sep, args.decimal, args.dayfirst, args.date_format)
    model = SeqFusion.from_pretrained(args.zoo, **settings(args))
    if stream:
        return _forecast_stream(args, model, future)
    df, fmt = _read_input(args.input, args.format, args.dayfirst, args.date_format, args.sep, args.decimal)
    if future is not None and fmt != "long":
        raise SeqFusionError("--future needs long input (unique_id, ds, y and the covariates' columns)")
    plot_levels = args.level or ([80.0, 95.0] if args.plot else None)  # one forecast serves both
    if args.quantiles:
        full = model.predict_quantiles(df, args.horizon, quantiles=args.quantiles, freq=args.freq, level=plot_levels,
                                       X_df=future)
    else:
        full = model.predict(df, args.horizon, freq=args.freq, level=plot_levels, X_df=future)
    out = full if args.level else full[[c for c in full.columns if not _is_interval(c)]]
    intervals = full if plot_levels else None
    write_index = fmt == "wide" and not any(c in out.columns for c in TIME_COLUMNS)
    label = "step" if write_index else None
    if args.output and args.output != "-":
        write_table(out, args.output, index=write_index, index_label=label)
    else:  # stdout: always CSV
        out.to_csv(sys.stdout, index=write_index, index_label=label)
    if args.plot:
        from seqfusion.frames import LONG_COLUMNS
        from seqfusion.plotting import plot_forecast

        hist, fc = _history_and_forecast(df[list(LONG_COLUMNS)] if future is not None else df, out, fmt)
        plot_forecast(hist, fc, args.plot, bands=_bands(intervals, fmt, plot_levels or []))
    if args.explain:
        print(model.explain(df, freq=args.freq, horizon=args.horizon).to_string(index=False), file=sys.stderr)
    return 0


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """The forecaster settings the command line gives (:class:`~seqfusion.options.Options`
    names; ``None``: not given, the zoo's or the default value)."""
    return {name: getattr(args, name) for name in Options.names() if hasattr(args, name)}


def _is_interval(column: Any) -> bool:
    return isinstance(column, str) and ("-lo-" in column or "-hi-" in column)


def _bands(intervals: pd.DataFrame | None, fmt: str, levels: list[float]) -> dict[Any, list[Any]]:
    """Interval bands per series for the plot: ``{name: [(level, lo [H], hi [H]), ...]}``."""
    from seqfusion.quantiles import level_label

    if intervals is None:
        return {}
    bands: dict[Any, list[Any]] = {}
    if fmt == "long":
        for name, g in intervals.groupby("unique_id", sort=False):
            bands[name] = [(lv, g[f"y-lo-{level_label(lv)}"].to_numpy(), g[f"y-hi-{level_label(lv)}"].to_numpy())
                           for lv in levels]
        return bands
    names = [c[: -len(f"-lo-{level_label(levels[0])}")] for c in intervals.columns
             if isinstance(c, str) and c.endswith(f"-lo-{level_label(levels[0])}")]
    for name in names:
        bands[name] = [(lv, intervals[f"{name}-lo-{level_label(lv)}"].to_numpy(),
                        intervals[f"{name}-hi-{level_label(lv)}"].to_numpy()) for lv in levels]
    return bands


def _forecast_stream(args: argparse.Namespace, model: Any, future: pd.DataFrame | None = None) -> int:
    """Long input: chunk by chunk (see :mod:`seqfusion.stream`)."""
    from seqfusion.stream import errors_path, forecast_file

    def warn(text: str) -> None:
        print(f"seqfusion: warning: {text}", file=sys.stderr)

    output = args.output if args.output and args.output != "-" else None
    summary = forecast_file(model, args.input, output, args.horizon, freq=args.freq, chunk_size=args.chunk_size,
                            on_error=args.on_error, dayfirst=args.dayfirst, date_format=args.date_format,
                            warn=warn, quantiles=args.quantiles, level=args.level, sep=args.sep,
                            decimal=args.decimal, future=future)
    if summary.skipped:
        where = f"; see {errors_path(output)}" if output else ""
        warn(f"{summary.skipped} series could not be forecast{where}")
    return 0


def cmd_zoo_list(args: argparse.Namespace) -> int:
    from seqfusion.zoo import Zoo

    zoo = Zoo.load(args.zoo)
    print(zoo.table().to_string(index=False))
    fc = zoo.info.get("forecaster", {})
    if zoo.router is not None:
        print(f"router: fitted to these {len(zoo)} members; default fusion {fc.get('fusion', 'mean')!r}, "
              f"temperature {fc.get('router_temperature', 1.0)}, k {fc.get('k', 3)}, "
              f"frequency input {'yes' if zoo.router.frequencies else 'no'}")
    else:
        print(f"router: none; default fusion {fc.get('fusion', 'mean')!r}, k {fc.get('k', 3)}")
    return 0


def cmd_zoo_show(args: argparse.Namespace) -> int:
    from seqfusion.zoo import Zoo

    if args.plot:
        from seqfusion.training import cli as zoo_cli

        return zoo_cli.cmd_map(args)
    zoo = Zoo.load(args.zoo)
    if args.name is None:
        print(zoo.table().to_string(index=False))
        return 0
    m = zoo[args.name]
    info: dict[str, Any] = {
        "name": m.name, "architecture": m.architecture, "source": m.source,
        "frequency": m.frequency, "domain": m.domain, "parameters": m.n_parameters,
        "config": m.config, "training": m.training,
    }
    for key, val in info.items():
        print(f"{key:>13}: {val}")
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _open_interval(low: float, high: float, what: str) -> Any:
    """An argparse type: a number strictly between ``low`` and ``high``."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low < value < high:
            raise argparse.ArgumentTypeError(f"expected {what} in ({low:g}, {high:g}), got {text!r}")
        return value
    return parse


def _one_char(text: str) -> str:
    value = {"tab": "\t", "\\t": "\t"}.get(text, text)
    if len(value) != 1 or value in "\n\r\"":
        raise argparse.ArgumentTypeError(f"expected one character (or 'tab'), got {text!r}")
    return value


_quantile = _open_interval(0, 1, "a quantile level")
_level = _open_interval(0, 100, "a level in percent")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="seqfusion", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    fc = sub.add_parser("forecast", help="forecast every series of a CSV file")
    fc.add_argument("input", help="wide CSV (date column + one column per variate) or long CSV "
                                  "(unique_id, ds, y); .parquet/.pq files are read as Parquet")
    fc.add_argument("--horizon", "-H", type=_positive_int, required=True, help="steps to forecast")
    fc.add_argument("--k", type=_positive_int, default=None, help="members fused per variate (default: the zoo's)")
    fc.add_argument("--zoo", default=None, help="zoo folder (default: the shipped zoo)")
    fc.add_argument("--format", choices=["auto", "wide", "long"], default="auto")
    fc.add_argument("--fusion", choices=FUSIONS, default=None,
                    help="fusion rule (default: the zoo's; 'mean' with --k 16 is the paper's design)")
    fc.add_argument("--router-temperature", type=float, default=None,
                    help="softens the router's weights (default: the zoo's)")
    fc.add_argument("--freq", default=None,
                    help="sampling frequency: a pandas alias (D, W, MS, QS, h, ...) or yearly, quarterly, "
                         "monthly, weekly, daily, hourly, subhourly, unknown (default: from the dates)")
    fc.add_argument("--selection", choices=SELECTIONS, default=None)
    fc.add_argument("--normalization", choices=NORMALIZATIONS, default=None)
    fc.add_argument("--dayfirst", action="store_true", default=None,
                    help="read text dates day-first (01/02/2020 = 1 February)")
    fc.add_argument("--date-format", default=None, help="strftime format of the dates, e.g. %%d.%%m.%%Y")
    fc.add_argument("--sep", type=_one_char, default=None,
                    help="CSV column separator (default: found in the file among , ; tab |)")
    fc.add_argument("--decimal", type=_one_char, default=None,
                    help="CSV decimal mark (default: ',' when the separator is not ',' and numbers such as "
                         "10,5 appear, else '.')")
    fc.add_argument("--future", default=None, metavar="FILE",
                    help="future values of the covariates (long input's extra columns): CSV or Parquet with "
                         "unique_id, ds and the same columns, exactly --horizon rows per series")
    fc.add_argument("--output", "-o",
                    help="write the forecast here: .parquet/.pq as Parquet, else CSV (default: stdout)")
    fc.add_argument("--quantiles", type=_quantile, nargs="+", default=None, metavar="Q",
                    help="also write these quantiles (levels in (0, 1), e.g. 0.1 0.5 0.9): columns q0.1 ... "
                         "(long input) or <variate>_q0.1 ... (wide input)")
    fc.add_argument("--level", type=_level, nargs="+", default=None, metavar="L",
                    help="also write prediction intervals at these levels in percent (e.g. 80 95): columns "
                         "<name>-lo-80, <name>-hi-80, ... (name: the variate, or y for long input)")
    fc.add_argument("--history", choices=HISTORIES, default=None,
                    help="whole: use every point of each history (default); last: only the zoo's input "
                         "length (36 points), as the paper")
    fc.add_argument("--no-exact", dest="exact", action="store_false", default=None,
                    help="plain matrix products: faster, but a series' forecast may differ in the last float32 "
                         "bits with the other series of its chunk (default: the same bits in any chunk)")
    fc.add_argument("--plot", help="draw history, forecast and its 80%% / 95%% intervals (or --level) "
                                   "per variate into this PNG")
    fc.add_argument("--explain", action="store_true", help="print the chosen PTMs to stderr")
    fc.add_argument("--min-length", type=_positive_int, default=None,
                    help="shortest history forecast, in finite points (default: 8; at most the zoo's input "
                         "length, 36); shorter series are an error, or skipped with --on-error skip")
    fc.add_argument("--chunk-size", type=_positive_int, default=10_000,
                    help="long input: series forecast per chunk; memory grows with it (default: 10000)")
    fc.add_argument("--on-error", choices=["fail", "skip"], default="fail",
                    help="long input: 'skip' writes series that cannot be forecast (too short, all NaN, ...) "
                         "with the reason to OUTPUT.errors.csv and forecasts the rest (default: fail)")
    fc.add_argument("--engine", choices=["local", "dask"], default="local",
                    help="'dask': forecast partitions on a Dask cluster (pip install 'seqfusion[dask]'); "
                         "Parquet folder out")
    fc.add_argument("--workers", type=_positive_int, default=None,
                    help="--engine dask: start a local cluster of this many worker processes "
                         "(default: one per usable CPU)")
    fc.add_argument("--scheduler", default=None,
                    help="--engine dask: address of a running Dask scheduler (e.g. tcp://host:8786)")
    fc.add_argument("--overwrite", action="store_true",
                    help="--engine dask: replace an existing output folder of Parquet part files (a previous "
                         "forecast); a folder holding any other file, or the input, is never replaced")
    fc.set_defaults(func=cmd_forecast)

    zoo = sub.add_parser("zoo", help="inspect, build or extend a model zoo")
    zsub = zoo.add_subparsers(dest="zoo_command", required=True)
    zl = zsub.add_parser("list", help="table of the zoo's PTMs")
    zl.add_argument("--zoo", default=None)
    zl.set_defaults(func=cmd_zoo_list)
    zs = zsub.add_parser("show", help="details of one PTM, or the table; --plot draws a PCA map")
    zs.add_argument("name", nargs="?", default=None)
    zs.add_argument("--zoo", default=None)
    zs.add_argument("--plot", help="PNG path for a 2-D PCA map of representations")
    zs.add_argument("--data", help="CSV whose variates are drawn on the map too")
    zs.set_defaults(func=cmd_zoo_show)
    from seqfusion.training import cli as zoo_cli  # argument definitions only: no torch until a command runs

    zoo_cli.add_zoo_commands(zsub)

    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``seqfusion`` command; returns its exit status. Ctrl-C anywhere (even while
    modules load) ends it with one line and status 130."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("seqfusion: interrupted (no output written)", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.formatwarning = _warning_line
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("seqfusion: interrupted (no output written)", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        if exc.name not in ("torch", "xlrd", "statsforecast", "matplotlib", "pyarrow", "dask", "distributed"):
            raise
        extra = {"torch": "training", "xlrd": "training", "statsforecast": "baselines", "matplotlib": "plot",
                 "pyarrow": "parquet", "dask": "dask", "distributed": "dask"}[exc.name]
        print(f"seqfusion: error: this command needs {exc.name}: pip install 'seqfusion[{extra}]'", file=sys.stderr)
        return 2
    except (SeqFusionError, KeyError, ValueError) as exc:
        if not isinstance(exc, SeqFusionError) and _raised_by_seqfusion(exc):
            raise  # a bug of ours: the traceback is what a report needs
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"seqfusion: error: {_one_line(msg)}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"seqfusion: error: {where}{exc.strerror or _one_line(exc)}", file=sys.stderr)
        return 2


def _warning_line(message: Any, category: Any, filename: str, lineno: int, line: str | None = None) -> str:
    return f"seqfusion: warning: {_one_line(message)}\n"


def _raised_by_seqfusion(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside this package (not by pandas, pyarrow, numpy ...
    reading the user's data), i.e. a bug rather than bad input."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    package = Path(__file__).resolve().parent
    return Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(package)


def _one_line(msg: Any) -> str:
    lines = str(msg).strip().splitlines()
    return lines[0] if lines else type(msg).__name__


if __name__ == "__main__":
    sys.exit(main())
