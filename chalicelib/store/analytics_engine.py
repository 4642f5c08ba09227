"""The analytics engine, a port with two adapters: DuckDB (local stage, tests, bench) and Athena (cloud).

    query(sql, params) -> list[dict]   a statement over the latest derived tables, or a given build's
    latest() -> Snapshot | None        what the latest tables were built from (export id, data_as_of)
    build(...) -> Snapshot             the derived tables from a completed export; then it is the latest

The SQL (store/analytics_sql.py) is written once in the dialect both engines share (Trino's, with
two spellings translated for DuckDB); a build reads `export_items` (the raw export) and writes the
derived tables (`analytics_sql.DERIVED_TABLES`: member_facts, ledger_days, lot_balances; Parquet),
which every other query reads. The setting `analytics_engine` picks the adapter. DuckDB is a
development dependency only: it is imported inside the DuckDB adapter's methods, never on a path a
Lambda function takes (the stack sets `ANALYTICS_ENGINE=athena`; tests/unit/test_lambda_package.py).

In the analytics bucket:

    exports/<export_id>/AWSDynamoDB/<id>/data/*.json.gz      the table's export (store/table_exports.py)
    derived/<export_id>/<table>/*.parquet                     each derived table built from it
    derived/latest.json                                       the Snapshot of the newest complete build

The pointer is written after the Parquet files, so a reader that finds it finds its tables.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from ..settings import get_settings
from . import analytics_sql, table_exports

DERIVED_PREFIX = "derived"
LATEST_KEY = f"{DERIVED_PREFIX}/latest.json"
# Trino functions DuckDB lacks, as DuckDB macros (the SQL is written once: analytics_sql.py).
DUCKDB_MACROS = (
    "CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)",
    "CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)",
)


class AnalyticsUnavailable(RuntimeError):
    """No build yet, or the engine failed to answer: nothing to read."""


@dataclass(frozen=True)
class Snapshot:
    """One build of the derived tables: the export it read and the time of the data it reflects."""

    export_id: str
    data_as_of: datetime  # the export's time
    as_of: date  # its program-time day ("today" for windows and lifecycle stages)
    window_start: date  # the first day of the trailing window
    built_at: datetime
    member_facts: str  # S3 prefix of the Parquet files
    export_data: str  # S3 prefix of the export's data files

    def table(self, name: str) -> str:
        """S3 prefix of one derived table's Parquet files (analytics_sql.DERIVED_TABLES)."""
        return f"{DERIVED_PREFIX}/{self.export_id}/{name}/"

    def to_json(self) -> str:
        body = asdict(self) | {k: getattr(self, k).isoformat() for k in ("data_as_of", "as_of", "window_start", "built_at")}
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Snapshot:
        body = json.loads(raw)
        return cls(
            export_id=body["export_id"],
            data_as_of=datetime.fromisoformat(body["data_as_of"]),
            as_of=date.fromisoformat(body["as_of"]),
            window_start=date.fromisoformat(body["window_start"]),
            built_at=datetime.fromisoformat(body["built_at"]),
            member_facts=body["member_facts"],
            export_data=body["export_data"],
        )


class AnalyticsEngine(Protocol):
    def query(
        self, sql: str, params: Sequence[object] = (), *, snapshot: Snapshot | None = None, timeout: float | None = None
    ) -> list[dict[str, Any]]: ...

    def build(self, export_id: str, data_as_of: datetime, facts: analytics_sql.FactsParams, built_at: datetime) -> Snapshot: ...


def _s3() -> Any:
    import boto3

    return boto3.client("s3")


def latest() -> Snapshot | None:
    """The newest complete build, or None before the first."""
    s3 = _s3()
    try:
        body = s3.get_object(Bucket=get_settings().analytics_bucket, Key=LATEST_KEY)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return Snapshot.from_json(body)


def _new_snapshot(export_id: str, data_as_of: datetime, facts: analytics_sql.FactsParams, built_at: datetime) -> Snapshot:
    member_facts, export_data = f"{DERIVED_PREFIX}/{export_id}/member_facts/", f"{table_exports.EXPORTS_PREFIX}/{export_id}/"
    return Snapshot(export_id, data_as_of, facts.as_of, facts.window_start, built_at, member_facts, export_data)


def _publish(snapshot: Snapshot) -> None:
    body = snapshot.to_json().encode()
    _s3().put_object(Bucket=get_settings().analytics_bucket, Key=LATEST_KEY, Body=body, ContentType="application/json", ServerSideEncryption="AES256")


def engine() -> AnalyticsEngine:
    return AthenaEngine() if get_settings().analytics_engine == "athena" else DuckDBEngine()


def query(sql: str, params: Sequence[object] = (), *, snapshot: Snapshot | None = None, timeout: float | None = None) -> list[dict[str, Any]]:
    """Rows of `sql` (written as in analytics_sql.py) over the latest build, or `snapshot`'s.
    `timeout`: the longest wait for Athena (QUERY_TIMEOUT_SECONDS without), e.g. inside an API
    request; the local engine (DuckDB) ignores it."""
    return engine().query(sql, params, snapshot=snapshot, timeout=timeout)


def build(export_id: str, data_as_of: datetime, facts: analytics_sql.FactsParams, built_at: datetime) -> Snapshot:
    """The derived tables from the completed export `export_id`; published as the latest build."""
    snapshot = engine().build(export_id, data_as_of, facts, built_at)
    _publish(snapshot)
    return snapshot


# --- DuckDB ------------------------------------------------------------------------------


class DuckDBEngine:
    """Embedded DuckDB over local copies of the bucket's files (httpfs cannot be installed offline):
    a build's files are downloaded once into a cache folder named after its export id."""

    def __init__(self, cache_root: Path | None = None) -> None:
        self.bucket = get_settings().analytics_bucket
        self.cache_root = cache_root or Path(tempfile.gettempdir()) / "huiyuan-analytics"

    def _folder(self, export_id: str) -> Path:
        return self.cache_root / self.bucket / export_id

    def _download(self, keys: list[str], into: Path) -> list[Path]:
        into.mkdir(parents=True, exist_ok=True)
        s3, paths = _s3(), []
        for key in keys:
            path = into / key.rsplit("/", 1)[-1]
            if not path.exists():
                partial = path.with_suffix(path.suffix + ".part")
                s3.download_file(self.bucket, key, str(partial))
                partial.replace(path)
            paths.append(path)
        return paths

    def _connect(self, export_files: list[Path], tables: dict[str, list[Path]] | None = None) -> Any:
        import duckdb

        connection = duckdb.connect(config={"threads": 2})
        for macro in DUCKDB_MACROS:
            connection.execute(macro)
        if export_files:
            files = ", ".join(f"'{p}'" for p in export_files)
            # One JSON object per line, not parsed into columns (read_json's typed read is ~30x slower here).
            connection.execute(f"CREATE VIEW export_items AS SELECT json_extract(json, '$.Item') AS item FROM read_ndjson_objects([{files}])")
        else:
            connection.execute("CREATE VIEW export_items AS SELECT CAST(NULL AS JSON) AS item WHERE false")
        for name, paths in (tables or {}).items():
            files = ", ".join(f"'{p}'" for p in paths)
            connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{files}])")
        return connection

    def _export_files(self, export_id: str) -> list[Path]:
        return self._download(table_exports.data_files(export_id), self._folder(export_id) / "export")

    def query(
        self, sql: str, params: Sequence[object] = (), *, snapshot: Snapshot | None = None, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        snapshot = snapshot or latest()
        if snapshot is None:
            raise AnalyticsUnavailable("no analytics build yet")
        tables = {
            name: self._download(_list(self.bucket, snapshot.table(name)), self._folder(snapshot.export_id) / name)
            for name in analytics_sql.DERIVED_TABLES
            if re.search(rf"\b{name}\b", sql)
        }
        # The raw export only for a statement that reads it (none of the KPIs or segments do).
        export = self._export_files(snapshot.export_id) if re.search(r"\bexport_items\b", sql) else []
        with self._connect(export, tables) as connection:
            cursor = connection.execute(analytics_sql.duckdb_dialect(sql), list(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def build(self, export_id: str, data_as_of: datetime, facts: analytics_sql.FactsParams, built_at: datetime) -> Snapshot:
        snapshot = _new_snapshot(export_id, data_as_of, facts, built_at)
        with self._connect(self._export_files(export_id)) as connection:
            for name, select in analytics_sql.derived_selects(facts).items():
                out = self._folder(export_id) / name / "part-00000.parquet"
                out.parent.mkdir(parents=True, exist_ok=True)
                connection.execute(f"COPY ({analytics_sql.duckdb_dialect(select)}) TO '{out}' (FORMAT parquet)")
                _s3().upload_file(str(out), self.bucket, snapshot.table(name) + out.name, ExtraArgs={"ServerSideEncryption": "AES256"})
        return snapshot


def _list(bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return sorted(keys)


# --- Athena ------------------------------------------------------------------------------

_NAME = re.compile(r"[^a-z0-9_]")
QUERY_TIMEOUT_SECONDS = 300.0


def athena_literal(value: object) -> str:
    """A query parameter as the SQL literal Athena's ExecutionParameters take."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime):
        raise TypeError("pass a date or a string, not a datetime")
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no Athena literal for {type(value).__name__}")


def _athena_value(raw: str | None, kind: str) -> Any:
    if raw is None:
        return None
    if kind in ("integer", "bigint", "smallint", "tinyint"):
        return int(raw)
    if kind in ("double", "float", "real", "decimal"):
        return float(raw)
    if kind == "boolean":
        return raw == "true"
    if kind == "date":
        return date.fromisoformat(raw)
    if kind == "array":
        inner = raw.strip()[1:-1].strip()
        return [part.strip() for part in inner.split(",")] if inner else []
    return raw


class AthenaEngine:
    """Athena over Glue tables: `export_items_<id>` (the export's JSON lines, one string column per
    item through the OpenX JSON SerDe) and `member_facts_<id>` (Parquet, by CTAS), with the views
    `export_items` and `member_facts` moved to the newest after each build."""

    def __init__(self) -> None:
        settings = get_settings()
        self.bucket, self.database, self.workgroup = settings.analytics_bucket, settings.analytics_database, settings.analytics_workgroup

    @staticmethod
    def _client(name: str) -> Any:
        import boto3

        return boto3.client(name)

    def run(self, sql: str, params: Sequence[object] = (), timeout: float | None = None) -> tuple[list[str], list[str], list[list[str | None]]]:
        """Start a query in the workgroup, wait for it, read every page of its result."""
        athena = self._client("athena")
        request: dict[str, Any] = {"QueryString": sql, "WorkGroup": self.workgroup, "QueryExecutionContext": {"Database": self.database}}
        if params:
            request["ExecutionParameters"] = [athena_literal(p) for p in params]
        execution_id = athena.start_query_execution(**request)["QueryExecutionId"]
        limit = QUERY_TIMEOUT_SECONDS if timeout is None else timeout
        deadline, pause = time.monotonic() + limit, 0.2
        while True:
            status = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
            if status["State"] == "SUCCEEDED":
                break
            if status["State"] in ("FAILED", "CANCELLED"):
                raise AnalyticsUnavailable(f"Athena query {execution_id} {status['State'].lower()}: {status.get('StateChangeReason', '')}")
            if time.monotonic() > deadline:
                athena.stop_query_execution(QueryExecutionId=execution_id)
                raise AnalyticsUnavailable(f"Athena query {execution_id} took longer than {limit:.0f} s")
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
        names: list[str] = []
        kinds: list[str] = []
        rows: list[list[str | None]] = []
        for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
            columns = page["ResultSet"].get("ResultSetMetadata", {}).get("ColumnInfo", [])
            if columns and not names:
                names, kinds = [c["Name"] for c in columns], [c.get("Type", "varchar") for c in columns]
            rows += [[cell.get("VarCharValue") for cell in row["Data"]] for row in page["ResultSet"].get("Rows", [])]
        if rows and names and rows[0] == names:
            rows = rows[1:]  # a SELECT's first row repeats the column names
        return names, kinds, rows

    def query(
        self, sql: str, params: Sequence[object] = (), *, snapshot: Snapshot | None = None, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        snapshot = snapshot or latest()
        if snapshot is None:
            raise AnalyticsUnavailable("no analytics build yet")
        names, kinds, rows = self.run(for_build(sql, snapshot.export_id), params, timeout)
        return [{n: _athena_value(v, k) for n, k, v in zip(names, kinds, row, strict=False)} for row in rows]

    def build(self, export_id: str, data_as_of: datetime, facts: analytics_sql.FactsParams, built_at: datetime) -> Snapshot:
        suffix = _suffix(export_id)
        data = table_exports.data_prefix(export_id)
        if data is None:
            raise AnalyticsUnavailable(f"export {export_id} has no data files")
        self._client("glue").create_table(
            DatabaseName=self.database,
            TableInput={
                "Name": f"export_items_{suffix}",
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"classification": "json", "compressionType": "gzip"},
                "StorageDescriptor": {
                    "Columns": [{"Name": "item", "Type": "string"}],
                    "Location": f"s3://{self.bucket}/{data}",
                    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe", "Parameters": {"case.insensitive": "true"}},
                },
            },
        )
        snapshot = _new_snapshot(export_id, data_as_of, facts, built_at)
        for name, select in analytics_sql.derived_selects(facts).items():
            self.run(
                f"CREATE TABLE {name}_{suffix} WITH (format = 'PARQUET', write_compression = 'SNAPPY', "
                f"external_location = 's3://{self.bucket}/{snapshot.table(name)}') AS {for_build(select, export_id)}"
            )
        # The unsuffixed views follow the newest build, for people querying in the console; the
        # program itself always names a build's own tables (for_build).
        for name in ("export_items", *analytics_sql.DERIVED_TABLES):
            self.run(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {name}_{suffix}")
        return snapshot


def _suffix(export_id: str) -> str:
    return _NAME.sub("_", export_id.lower())


_TABLES = re.compile(r"\b(" + "|".join(("export_items", *analytics_sql.DERIVED_TABLES)) + r")\b")


def for_build(sql: str, export_id: str) -> str:
    """The statement over one build's own Glue tables (`member_facts` -> `member_facts_<export id>`),
    so that a query for an older snapshot reads that snapshot, not whatever the views show now."""
    return _TABLES.sub(lambda m: f"{m.group(1)}_{_suffix(export_id)}", sql)
