"""`score` on engines: the same log as a Parquet file, a hive-partitioned folder, a DuckDB table, a
PostgreSQL table and through Spark local mode gives the same metrics.json; bad sources are one line each."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.postgres import PostgresServer
from test_score_stream import SYNTHETIC_ARGS, synthetic

from harness._util.processes import free_port
from harness.pipeline.score import score_file
from harness.record import write_record

REPO_ROOT = Path(__file__).resolve().parents[2]


def log() -> pd.DataFrame:
    """The synthetic log with ids that sort in row order (a table has no row order, so it lists items by id)
    and a `day` column whose partitions, read in folder order, are the rows in order."""
    frame = synthetic()
    frame["id"] = [f"x{i:05d}" for i in range(len(frame))]
    frame["day"] = [f"2026-01-0{1 + 3 * i // len(frame)}" for i in range(len(frame))]
    return frame


def metrics_of(tmp: Path, name: str, source: str, **kwargs: Any) -> str:
    # keep_items=0: every path collapses and chooses its 200 exemplars per combination in the engine; one name,
    # which metrics.json carries, so the files compare byte for byte.
    write_record(score_file(source, keep_items=0, name="log", **SYNTHETIC_ARGS, **kwargs), tmp / name)
    return (tmp / name / "metrics.json").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The log as one Parquet file and its metrics.json, read by DuckDB."""
    tmp = tmp_path_factory.mktemp("engines")
    log().to_parquet(tmp / "log.parquet", index=False)
    return tmp, metrics_of(tmp, "file", str(tmp / "log.parquet"))


def test_a_hive_partitioned_folder_and_a_duckdb_table_give_the_files_metrics(reference: tuple[Path, str]) -> None:
    import duckdb

    tmp, expected = reference
    frame = log()
    for day, part in frame.groupby("day", sort=True):
        (tmp / "folder" / f"day={day}").mkdir(parents=True)
        part.drop(columns="day").to_parquet(tmp / "folder" / f"day={day}" / "part-0.parquet", index=False)
    assert metrics_of(tmp, "folder", str(tmp / "folder")) == expected
    with duckdb.connect(str(tmp / "logs.duckdb")) as con:
        con.execute(f"CREATE TABLE predictions AS SELECT * FROM read_parquet('{tmp / 'log.parquet'}')")
    assert metrics_of(tmp, "table", f"duckdb://{tmp / 'logs.duckdb'}", table="predictions") == expected
    assert json.loads(expected)["relabel_candidates"]["total"] > 200


def test_csv_and_jsonl_through_duckdb_match_parquet(reference: tuple[Path, str]) -> None:
    tmp, expected = reference
    log().to_csv(tmp / "log.csv", index=False)
    log().to_json(tmp / "log.jsonl", orient="records", lines=True)
    assert metrics_of(tmp, "csv", str(tmp / "log.csv")) == expected
    assert metrics_of(tmp, "jsonl", str(tmp / "log.jsonl")) == expected


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    pytest.importorskip("ibis.backends.postgres", reason="pip install 'policy-harness[postgres]'")
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_a_postgres_table_gives_the_files_metrics(reference: tuple[Path, str], postgres: PostgresServer) -> None:
    import ibis

    tmp, expected = reference
    url = f"postgres://mlflow@127.0.0.1:{postgres.port}/mlflow"
    con = ibis.connect(url)
    con.create_table("predictions", log())
    con.disconnect()
    assert metrics_of(tmp, "postgres", url, table="predictions") == expected


def spark_ready() -> None:
    """Spark local mode needs pyspark and Java 17; outside CI a missing one skips with the install hint."""
    missing = []
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing.append("pyspark: pip install 'policy-harness[spark]'")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        missing.append("Java 17: apt-get install openjdk-17-jre-headless (make test does this as root)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Spark test; missing {'; '.join(missing)}")
        pytest.skip(f"Spark local mode needs {'; '.join(missing)}")


@pytest.mark.slow
def test_spark_local_mode_gives_the_files_metrics(reference: tuple[Path, str]) -> None:
    spark_ready()
    tmp, expected = reference
    assert metrics_of(tmp, "spark", str(tmp / "log.parquet"), engine="spark", spark_master="local[2]") == expected


SPARK_WRITE = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[2]").getOrCreate()
spark.sql("CREATE DATABASE IF NOT EXISTS logs_db")
# Spark reads the Parquet file itself: a pandas frame's missing strings may arrive as 'NaN' text
spark.read.parquet(sys.argv[1]).write.saveAsTable("logs_db.predictions")
spark.stop()
"""
SPARK_SCORE = """
import sys
from pathlib import Path
from test_score_stream import SYNTHETIC_ARGS
from harness.errors import HarnessError
from harness.pipeline.score import score_file
from harness.record import write_record
try:
    score_file("logs_db", table="prediction", engine="spark", spark_master="local[2]", **SYNTHETIC_ARGS)
except HarnessError as err:
    print(err)
write_record(score_file("logs_db", table="predictions", engine="spark", spark_master="local[2]", keep_items=0,
                        name="log", **SYNTHETIC_ARGS), Path(sys.argv[1]))
"""


@pytest.mark.slow
def test_a_spark_catalog_table_gives_the_files_metrics(reference: tuple[Path, str], tmp_path: Path) -> None:
    """A table in the Spark catalog the environment configures (here a Hive metastore named in SPARK_CONF_DIR's
    spark-defaults.conf, as a cluster's would be): `score DATABASE --engine spark --table NAME`."""
    spark_ready()
    tmp, expected = reference
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "spark-defaults.conf").write_text(
        "spark.sql.catalogImplementation hive\n"
        f"spark.sql.warehouse.dir {tmp_path / 'warehouse'}\n"
        f"spark.hadoop.javax.jdo.option.ConnectionURL jdbc:derby:;databaseName={tmp_path / 'metastore'};create=true\n",
        encoding="utf-8")
    env = {**os.environ, "SPARK_CONF_DIR": str(tmp_path / "conf"),
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests"), str(Path(__file__).parent)])}
    for script, argument in ((SPARK_WRITE, tmp / "log.parquet"), (SPARK_SCORE, tmp_path / "scored")):
        done = subprocess.run([sys.executable, "-c", script, str(argument)], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
    assert "has no table 'prediction'; did you mean 'predictions'?" in done.stdout
    assert (tmp_path / "scored" / "metrics.json").read_text(encoding="utf-8") == expected


def score_cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "harness", "score", *args, "--gold", "gold", "--pred", "a",
                           "--no-track", "--out", "out"], cwd=tmp, env=env, capture_output=True, text=True, timeout=300)


def one_line_error(result: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert "Traceback" not in message and len(message.splitlines()) == 1, message
    for part in parts:
        assert part in message, message


def test_bad_sources_are_one_line_each(tmp_path: Path) -> None:
    import duckdb

    log().to_parquet(tmp_path / "log.parquet", index=False)
    with duckdb.connect(str(tmp_path / "logs.duckdb")) as con:
        con.execute(f"CREATE TABLE predictions AS SELECT * FROM read_parquet('{tmp_path / 'log.parquet'}')")
    one_line_error(score_cli(tmp_path, "postgress://u@localhost/db", "--table", "t"),
                   "unknown engine scheme 'postgress://'", "did you mean 'postgres://'")
    one_line_error(score_cli(tmp_path, f"duckdb://{tmp_path / 'logs.duckdb'}", "--table", "prediction", "--id", "id"),
                   "has no table 'prediction'", "did you mean 'predictions'")
    one_line_error(score_cli(tmp_path, "log.parquet", "--slices", "langs"),
                   "column 'langs' is not in the log", "did you mean 'lang'")
    one_line_error(score_cli(tmp_path, "snowflake://user:secret@account/db/schema", "--table", "t"),
                   "pip install 'policy-harness[snowflake]'")
    port = free_port()  # nothing listens there
    one_line_error(score_cli(tmp_path, f"postgres://u:secret@127.0.0.1:{port}/db", "--table", "t"),
                   "could not connect", "u:***@")
    one_line_error(score_cli(tmp_path, f"duckdb://{tmp_path / 'logs.duckdb'}", "--table", "predictions"),
                   "has no row order", "--id")
    one_line_error(score_cli(tmp_path, "nothing/*.parquet"), "no file matches")


def test_an_unreachable_spark_master_is_one_line_at_once(tmp_path: Path) -> None:
    """Spark would retry a dead standalone master for about a minute, printing stack traces; the check comes first."""
    spark_ready()
    log().to_parquet(tmp_path / "log.parquet", index=False)
    master = f"spark://127.0.0.1:{free_port()}"
    one_line_error(score_cli(tmp_path, "log.parquet", "--engine", "spark", "--spark-master", master),
                   f"no Spark master answers at '{master}'", "local[*]")


def test_a_parquet_log_is_ranked_on_a_prefix_that_grows_until_every_list_is_full(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an id column, items are named by row number and both rankings follow row order, so a Parquet log is
    ranked on its first rows; a language whose only errors sit at the end makes the prefix grow. The rows chosen
    (and so metrics.json) are those of the whole log ranked at once, as the CSV path (no prefix) does."""
    from harness.pipeline import engines, prediction_log

    frame = log().drop(columns=["id", "day"])
    late = frame.tail(30).assign(lang="fr", gold="benign", a="HS", b="benign")  # false positives of `a`, last rows
    frame = pd.concat([frame, late], ignore_index=True)
    frame.to_parquet(tmp_path / "log.parquet", index=False)
    (tmp_path / "parts").mkdir()
    for at, part in enumerate((frame.iloc[:2500], frame.iloc[2500:])):
        part.to_parquet(tmp_path / "parts" / f"part-{at}.parquet", index=False)
    frame.to_csv(tmp_path / "log.csv", index=False)
    args = {**SYNTHETIC_ARGS, "id_column": None}
    lengths: list[int] = []
    cut = engines._parquet_head

    def spied(*parts: Any) -> Any:
        head = cut(*parts)
        return lambda length: (lengths.append(length), head(length))[1]

    monkeypatch.setattr(engines, "_parquet_head", spied)
    monkeypatch.setattr(prediction_log, "PREFIX_ROWS", 500)

    def metrics(name: str, source: Path) -> str:
        write_record(score_file(str(source), keep_items=0, name="log", **args), tmp_path / name)
        return (tmp_path / name / "metrics.json").read_text(encoding="utf-8")

    whole = metrics("csv", tmp_path / "log.csv")
    assert lengths == []
    assert metrics("file", tmp_path / "log.parquet") == whole
    assert lengths == [500, 4000]  # 500 rows hold no `fr` error; 4,000 do not either; then the whole log
    # Several files number their rows per file (ids differ from one file's); ranked whole, then on prefixes that
    # end inside the second file.
    monkeypatch.setattr(prediction_log, "PREFIX_ROWS", 10**9)
    lengths.clear()
    whole_parts = metrics("parts-whole", tmp_path / "parts")
    monkeypatch.setattr(prediction_log, "PREFIX_ROWS", 500)
    assert metrics("parts", tmp_path / "parts") == whole_parts
    assert lengths == [500, 4000]
    exemplars = json.loads(whole)["errors"]["reviewers"]["a"]["exemplars"][0]["items"]
    assert any(e["slices"]["lang"] == "fr" for e in exemplars)


def test_a_short_prefix_is_enough_when_every_list_fills_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.pipeline import engines, prediction_log

    frame = log().drop(columns=["id", "day"])
    frame.to_parquet(tmp_path / "log.parquet", index=False)
    frame.to_csv(tmp_path / "log.csv", index=False)
    args = {**SYNTHETIC_ARGS, "id_column": None}
    lengths: list[int] = []
    cut = engines._parquet_head
    monkeypatch.setattr(engines, "_parquet_head",
                        lambda *parts: (lambda head: lambda n: (lengths.append(n), head(n))[1])(cut(*parts)))
    monkeypatch.setattr(prediction_log, "PREFIX_ROWS", 5000)
    records = [score_file(str(tmp_path / name), keep_items=0, name="log", **args) for name in ("log.csv", "log.parquet")]
    assert lengths == [5000]
    for at, record in enumerate(records):
        write_record(record, tmp_path / str(at))
    assert (tmp_path / "0" / "metrics.json").read_text() == (tmp_path / "1" / "metrics.json").read_text()
