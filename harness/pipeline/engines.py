"""Where a prediction log lives, opened as an Ibis table on the engine that holds it.

SOURCE is a file, a glob or a (hive-partitioned) folder of CSV, TSV, JSONL or Parquet, read by
DuckDB embedded (the default) or by Spark (`engine="spark"`), or an Ibis connection URL
(`duckdb:///abs/logs.duckdb`, `postgres://...`, `bigquery://...`, ...) with a table name. Every
way in ends as the same kind of Ibis table, so the collapse (harness.pipeline.prediction_log) is
one expression compiled for whichever engine runs it. Failures (an unknown scheme, a missing
driver, an unreachable server, a missing table) are one HarnessError each.
"""

from __future__ import annotations

import difflib
import glob as globbing
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError

if TYPE_CHECKING:
    import ibis.expr.types as ir

ENGINES = ("duckdb", "spark")
DEFAULT_SPARK_MASTER = "local[*]"
ROW = "__harness_row"  # the row's position in the files, where the source has one (DuckDB reading files)
FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
           ".ndjson": "jsonl"}
# The extra of policy-harness that installs each Ibis backend's driver (pyproject.toml).
EXTRAS = {"duckdb": None, "pyspark": "spark", "spark": "spark", "postgres": "postgres", "postgresql": "postgres",
          "bigquery": "bigquery", "snowflake": "snowflake", "trino": "trino"}
_URL = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)
DUCKDB_MEMORY = "1GB"  # DuckDB spills its aggregation to disk past this, keeping the process near 1.5 GB


FILE_BITS = 40  # ROW of a log in several files: the file's index above these bits, its row (from 1) below


@dataclass
class Opened:
    """The log as an Ibis table (the needed columns); `ordered`: it carries ROW, the row's place in its files
    (files read by DuckDB), so 'first' means first in the file; otherwise items are ordered by their id."""

    table: ir.Table
    ordered: bool
    label: str
    close: Callable[[], None]
    files: list[str] = field(default_factory=list)
    # The same table cut to its first N rows by a reader that skips what it need not read (Parquet's row
    # groups), where the source has one; None elsewhere.
    head: Callable[[int], ir.Table] | None = None

    def row_name(self, row: int) -> str:
        """ROW as the user counts: 'row 12', or 'row 12 of <file>' when the log is several files."""
        if len(self.files) <= 1:
            return f"row {row}"
        return f"row {row & ((1 << FILE_BITS) - 1)} of {self.files[row >> FILE_BITS]}"


def is_url(source: str) -> bool:
    """Whether SOURCE is an Ibis connection URL rather than a path."""
    return bool(_URL.match(source)) and not Path(source).exists()


def open_source(source: str, needed: list[str], *, table: str | None = None, engine: str = "duckdb",
                spark_master: str = DEFAULT_SPARK_MASTER) -> Opened:
    """The log at SOURCE (a path, glob or folder; or a connection URL with `table`) as an Ibis table of the
    `needed` columns (each checked to exist)."""
    if engine not in ENGINES:
        raise HarnessError(f"unknown engine '{engine}'; use one of: {', '.join(ENGINES)}.")
    if engine == "spark" and table and not is_url(source):
        opened = _open_spark_table(source, table, spark_master)
    elif is_url(source):
        if engine != "duckdb":
            raise HarnessError("--engine applies to files; a connection URL names its engine itself.", path=source)
        opened = _open_url(source, table)
    else:
        files, fmt, hive = _files(source)
        if table:
            raise HarnessError("--table names a table behind a connection URL (or, with --engine spark, in the Spark "
                               "catalog's database SOURCE); a file is read whole.", path=source)
        if engine == "spark":
            opened = _open_spark(source, files, fmt, spark_master)
        else:
            return _open_duckdb_files(source, files, fmt, hive, needed)
    try:
        check_columns(opened.table, needed, source)
    except HarnessError:
        opened.close()
        raise
    return opened


def _files(source: str) -> tuple[list[str], str, bool]:
    """The files SOURCE names, their one format, and whether they sit in hive partitions (key=value folders)."""
    path = Path(source)
    if path.is_dir():
        found = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS)
        if not found:
            raise HarnessError(f"folder holds no {', '.join(sorted(set(FORMATS)))} files.", path=source)
    elif any(ch in source for ch in "*?["):
        found = sorted(p for p in globbing.glob(source, recursive=True) if Path(p).is_file())
        if not found:
            raise HarnessError("no file matches this pattern; check the path.", path=source)
    elif path.is_file():
        found = [source]
    else:
        raise HarnessError("file not found; check the path (or give a connection URL such as "
                           "duckdb:///abs/logs.duckdb with --table).", path=source)
    kinds = {FORMATS.get(Path(f).suffix.lower()) for f in found}
    if None in kinds:
        bad = next(f for f in found if Path(f).suffix.lower() not in FORMATS)
        raise HarnessError(f"cannot read '{Path(bad).suffix}' files; give CSV, TSV, JSONL or Parquet.", path=bad)
    if len(kinds) > 1:
        raise HarnessError(f"mixes formats ({', '.join(sorted(str(k) for k in kinds))}); give files of one format.",
                           path=source)
    hive = any(re.fullmatch(r"[^=/]+=[^/]*", part) for f in found for part in Path(f).parent.parts)
    return found, str(kinds.pop()), hive


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _open_duckdb_files(source: str, files: list[str], fmt: str, hive: bool, needed: list[str]) -> Opened:
    ibis = _import_backend("duckdb")
    con = ibis.duckdb.connect()
    con.raw_sql(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    con.raw_sql("SET enable_progress_bar = false")  # the command shows its own progress; DuckDB's is noise
    names = "[" + ", ".join(_quote(f) for f in files) + "]"
    options = {"parquet": ", file_row_number = true", "csv": ", all_varchar = true, header = true",
               "tsv": ", all_varchar = true, header = true, delim = '\t'", "jsonl": ", format = 'newline_delimited'"}
    reader = {"parquet": "read_parquet", "csv": "read_csv", "tsv": "read_csv", "jsonl": "read_json"}[fmt]
    scan = f"{reader}({names}{options[fmt]}{', hive_partitioning = true' if hive else ''})"
    try:
        check_columns(con.sql(f"SELECT * FROM {scan}"), needed, source)
        picked = ", ".join('"' + c.replace('"', '""') + '"' for c in needed)
        if fmt == "parquet":  # the reader numbers the rows itself, in parallel
            row = f"(file_index::BIGINT << {FILE_BITS}) + file_row_number + 1" if len(files) > 1 else "file_row_number + 1"
        else:
            # DuckDB's streaming window: it numbers the rows in scan order, which with preserve_insertion_order (the
            # default) is the files' order; over the needed columns only, as it holds every row it numbers.
            row = "row_number() OVER ()"
        table = con.sql(f"SELECT {picked}, {row} AS {ROW} FROM {scan}")
    except HarnessError:
        con.disconnect()
        raise
    except Exception as err:  # DuckDB's parse errors carry the line; the file is what the user fixes
        con.disconnect()
        raise HarnessError(f"could not be read as {fmt.upper()} ({_first_line(err)}); fix the file (it must be "
                           "UTF-8 with the same columns on every row).", path=source) from None
    head = _parquet_head(con, files, picked, hive) if fmt == "parquet" else None
    return Opened(table=table, ordered=True, label=_stem(source), close=con.disconnect, files=files, head=head)


def _parquet_head(con: Any, files: list[str], picked: str, hive: bool) -> Callable[[int], ir.Table]:
    """The log's first N rows with the same ROW numbers, read as whole files and then one file's first rows, a
    filter on the reader's own row number (which skips row groups; a filter on ROW, an expression, would not)."""
    counts: list[int] = []

    def head(length: int) -> ir.Table:
        if not counts:
            names = "[" + ", ".join(_quote(f) for f in files) + "]"
            rows = dict(con.raw_sql(f"SELECT file_name, num_rows FROM parquet_file_metadata({names})").fetchall())
            counts.extend(int(rows[f]) for f in files)
        whole, left = 0, length
        while whole < len(files) and counts[whole] <= left:
            left -= counts[whole]
            whole += 1
        hive_option = ", hive_partitioning = true" if hive else ""

        def scan(names: list[str], index: str, cut: str = "") -> str:
            row = f"({index}::BIGINT << {FILE_BITS}) + file_row_number + 1" if len(files) > 1 else "file_row_number + 1"
            listed = "[" + ", ".join(_quote(f) for f in names) + "]"
            return (f"SELECT {picked}, {row} AS {ROW} FROM read_parquet({listed}, file_row_number = true"
                    f"{hive_option}){cut}")

        # Whole files keep their index (a prefix of the list); the file cut short is numbered by its place.
        parts = [scan(files[:whole], "file_index")] if whole else []
        if whole < len(files) and left > 0:
            parts.append(scan([files[whole]], str(whole), f" WHERE file_row_number < {left}"))
        return con.sql(" UNION ALL ".join(parts))

    return head


def _spark_session(master: str) -> Any:
    """A Spark session on `master`, configured as the environment configures Spark (SPARK_CONF_DIR's
    spark-defaults.conf: the catalog, the warehouse, the metastore)."""
    from pyspark.sql import SparkSession

    _check_master(master)
    try:
        session = (SparkSession.builder.master(master).appName("policy-harness score")
                   .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC").getOrCreate())
    except Exception as err:
        raise HarnessError(f"Spark could not start on master '{master}' ({_first_line(err)}); Spark needs Java 17 or "
                           "newer on PATH (or JAVA_HOME) and a reachable master.") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def _check_master(master: str) -> None:
    """A standalone or Kubernetes master that does not accept a connection is named at once: Spark itself retries for
    about a minute and prints its stack traces before it gives up."""
    import socket
    from urllib.parse import urlsplit

    if master.startswith("spark://"):
        addresses = master.removeprefix("spark://").split(",")  # spark://a:7077,b:7077: high-availability masters
    elif master.startswith("k8s://"):
        addresses = [urlsplit(master.removeprefix("k8s://")).netloc]
    else:
        return  # local[*], yarn (found through the environment's Hadoop configuration), ...
    for address in addresses:
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host or address, int(port) if port.isdigit() else 7077), timeout=5):
                return
        except OSError:
            continue
    raise HarnessError(f"no Spark master answers at '{master}'; check the host and port (a standalone master "
                       "listens on 7077), or use --spark-master 'local[*]' to run Spark on this machine.")


def _open_spark_table(database: str, table: str, master: str) -> Opened:
    """A table of the Spark session's catalog (a Hive metastore, Unity, Glue: whatever the environment's Spark
    configuration names), in `database`."""
    ibis = _import_backend("pyspark")
    session = _spark_session(master)
    try:
        databases = [d.name for d in session.catalog.listDatabases()]
        if database not in databases:
            close = difflib.get_close_matches(database, databases, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"databases: {', '.join(databases[:20]) or '(none)'}."
            raise HarnessError(f"the Spark catalog has no database '{database}'; {hint} With --engine spark and "
                               "--table, SOURCE names the database that holds the table.", path=database)
        names = [t.name for t in session.catalog.listTables(database)]
        if table not in names:
            close = difflib.get_close_matches(table, names, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"tables: {', '.join(names[:20]) or '(none)'}."
            raise HarnessError(f"the Spark database '{database}' has no table '{table}'; {hint}", path=database)
    except HarnessError:
        session.stop()
        raise
    con = ibis.pyspark.connect(session)
    return Opened(table=con.table(table, database=database), ordered=False, label=table, close=session.stop)


def _open_spark(source: str, files: list[str], fmt: str, master: str) -> Opened:
    ibis = _import_backend("pyspark")
    session = _spark_session(master)
    con = ibis.pyspark.connect(session)
    if fmt == "parquet":
        frame = session.read.parquet(*files)
    elif fmt == "jsonl":
        frame = session.read.json(files)
    else:
        frame = session.read.csv(files, header=True, sep="\t" if fmt == "tsv" else ",", multiLine=True, escape='"')
    name = "harness_score_log"
    frame.createOrReplaceTempView(name)
    return Opened(table=con.table(name), ordered=False, label=_stem(source), close=session.stop)


def _open_url(url: str, table: str | None) -> Opened:
    scheme = url.split("://", 1)[0].lower()
    if scheme not in EXTRAS:
        close = difflib.get_close_matches(scheme, list(EXTRAS), n=1)
        hint = f"did you mean '{close[0]}://'? " if close else ""
        raise HarnessError(f"unknown engine scheme '{scheme}://'; {hint}give a file, a folder or one of "
                           f"{', '.join(s + '://' for s in EXTRAS if s != 'spark')}.", path=_redacted(url))
    if not table:
        raise HarnessError("a connection URL needs --table NAME, the table that holds the log.", path=_redacted(url))
    ibis = _import_backend(scheme)
    try:
        con = ibis.connect(url)
        names = list(con.list_tables())
    except ImportError as err:
        raise _missing_driver(scheme, err) from None
    except Exception as err:
        raise HarnessError(f"could not connect ({_first_line(err)}); check the host, port, database and "
                           "credentials in the URL.", path=_redacted(url)) from None
    if table not in names:
        close = difflib.get_close_matches(table, names, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"tables: {', '.join(names[:20]) or '(none)'}."
        raise HarnessError(f"has no table '{table}'; {hint}", path=_redacted(url))
    return Opened(table=con.table(table), ordered=False, label=table, close=con.disconnect)


def _import_backend(scheme: str) -> ModuleType:
    """ibis with the backend for `scheme` importable; a missing package names the extra that installs it."""
    try:
        import ibis

        backend = {"postgresql": "postgres", "spark": "pyspark"}.get(scheme, scheme)
        with warnings.catch_warnings():  # PySpark warns on import that it is not yet tested with pandas 3
            warnings.filterwarnings("ignore", message="PySpark does not yet fully support", category=FutureWarning)
            getattr(ibis, backend).connect  # noqa: B018  # imports the backend's driver now, not mid-query
    except (ImportError, AttributeError) as err:
        raise _missing_driver(scheme, err) from None
    module: ModuleType = ibis
    return module


def _missing_driver(scheme: str, err: BaseException) -> HarnessError:
    extra = EXTRAS.get(scheme)
    package = f"policy-harness[{extra}]" if extra else "policy-harness"
    return HarnessError(f"the {scheme} engine's driver is not installed ({_first_line(err)}); "
                        f"install it with: pip install '{package}'.")


def check_columns(table: ir.Table, needed: list[str], source: str) -> None:
    """Every named column is in the table; a missing one is named with the nearest match."""
    names = list(table.columns)
    for column in needed:
        if column not in names:
            close = difflib.get_close_matches(column, names, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"columns: {', '.join(names[:20])}."
            raise HarnessError(f"column '{column}' is not in the log; {hint} Fix --gold/--pred/--id/--text/--slices/"
                               "--weight/--strata.", path=_redacted(source))


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


def _redacted(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^/:@]+):[^@/]*@", r"\1:***@", url)


def _stem(source: str) -> str:
    path = Path(source.rstrip("/"))
    return path.stem.replace("*", "").strip("._-") or path.parent.name or "log"
