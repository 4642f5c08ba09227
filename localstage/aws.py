"""The embedded AWS endpoint: moto's server on loopback, one request at a time.

moto's backends are not thread-safe for transactions (../shared/TOOL-NOTES.md);
DynamoDB makes every call atomic, so the endpoint holds a lock around each
request. What concurrency tests then prove is the service's own logic.

Given a state directory, it also keeps its data across restarts: every request
that changed state is journaled inside that lock, before it is answered
(persistence.py).
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import copy
import inspect
import io
import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wsgi import get_input_stream

from localstage.persistence import Compacted, LocalState, Restored, kind_of, region_of


class _Serialised:
    def __init__(self, app: Any, state: LocalState | None = None) -> None:
        self._app = app
        self._state = state
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if self._state is None or kind_of(target) is None:
            with self.lock:
                # Materialise the body inside the lock: the backend work happens while iterating.
                return list(self._app(environ, start_response))
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        status: list[str] = []

        def recording_start_response(value: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(value)
            return start_response(value, headers, exc_info)

        with self.lock:
            answer = list(self._app(environ, recording_start_response))
            if status and status[0].startswith("2"):  # a refused request changed nothing
                self._state.record(region_of(environ.get("HTTP_AUTHORIZATION", "")), target, body)
            return answer


@contextlib.contextmanager
def _replaced(owner: type, name: str, replacement: Any) -> Iterator[None]:
    """`owner.<name>` is `replacement` while the block runs, and what it was before after it."""
    before = inspect.getattr_static(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, before)


@contextlib.contextmanager
def light_transaction_snapshots() -> Iterator[None]:
    """Make moto's TransactWriteItems snapshot only the items it writes.

    moto keeps a `copy.deepcopy` of the whole table per item of every
    transaction, to roll back a cancelled one: 0.2-0.7 s per job transaction
    at 2,000 items, 16-20 s per 4-item transaction at 20,000 (on a loaded
    machine), so the 400 transactions of the 10,000-member run would take
    hours; with this, about 15 ms each. While this is active, moto takes
    one copy per transaction that shares the partitions the transaction does
    not touch and deep-copies the items it does, so a cancelled transaction
    still rolls back exactly. What DynamoDB is asked, and what it answers, do
    not change: only moto's time does.
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items
    touched: dict[str, list[dict[str, Any]]] = {}
    clones: dict[str, Table] = {}

    def snapshot(table: Table, memo: dict[int, Any]) -> Table:
        if table.name in clones:  # moto copies once per item of the transaction: the first copy serves
            return clones[table.name]
        clone = copy.copy(table)
        clone.items = copy.copy(table.items)  # the partitions the transaction does not touch are shared
        if table.stream_shard is not None:  # a cancelled transaction leaves no record in the stream
            clone.stream_shard = copy.copy(table.stream_shard)
            clone.stream_shard.items = list(table.stream_shard.items)
        for spec in touched.get(table.name, []):
            key = spec["Item"] if "Item" in spec else spec["Key"]
            hash_value = DynamoType(key[table.hash_key_attr])
            if hash_value not in table.items:
                continue
            if table.has_range_key:
                partition = clone.items[hash_value] = dict(clone.items[hash_value])
                range_value = DynamoType(key[table.range_key_attr])
                if range_value in partition:
                    partition[range_value] = copy.deepcopy(partition[range_value])
            else:
                clone.items[hash_value] = copy.deepcopy(table.items[hash_value])
        clones[table.name] = clone
        return clone

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        touched.clear()
        clones.clear()
        for entry in transact_items:
            for spec in entry.values():
                touched.setdefault(spec.get("TableName", ""), []).append(spec)
        Table.__deepcopy__ = snapshot  # type: ignore[attr-defined]
        try:
            original(self, transact_items)
        finally:
            del Table.__deepcopy__  # type: ignore[attr-defined]
            touched.clear()
            clones.clear()

    with _replaced(DynamoDBBackend, "transact_write_items", transact_write_items):
        yield


@contextlib.contextmanager
def partition_queries() -> Iterator[None]:
    """Make moto's Query on a table's own key read only the partition asked for.

    moto answers a Query by walking every item of the table and keeping those
    with the hash key asked for, so reading one member's ledger costs the
    whole table: 300 ms of CPU at 11,000 items, 5 minutes of the 9 that
    `make demo` spent at 300 members before this. While this is active, moto
    walks the one partition instead (it keeps items by hash key already);
    its sorting, paging, conditions, filters and answers are its own, and
    index queries are untouched. Requests are serialised (`_Serialised`), so
    swapping a table's items for the length of one Query is safe.
    """
    from moto.dynamodb.models.table import Table

    original = Table.query
    signature = inspect.signature(original)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        asked = signature.bind(self, *args, **kwargs).arguments  # moto passes index_name by position
        hash_key = asked.get("hash_key")
        if asked.get("index_name") is not None or hash_key is None:
            return original(self, *args, **kwargs)
        items = self.items
        self.items = {hash_key: items[hash_key]} if hash_key in items else {}
        try:
            return original(self, *args, **kwargs)
        finally:
            self.items = items

    with _replaced(Table, "query", query):
        yield


@contextlib.contextmanager
def plain_stream_reads() -> Iterator[None]:
    """Answer the change stream's GetRecords with moto's records as they are, dumped as JSON.

    moto 5 builds each answer through its generic, model-driven serializer, which walks every
    attribute of every image in every record: ~100 ms of CPU per call, the largest single cost
    of the local stack under the fuzz run (45 s of its moto time in 4 minutes, the event pump
    reading what the product-code batches wrote). moto's records are already in the wire's
    shape (attribute values typed as DynamoDB JSON) but for two types: the record's time is a
    datetime (epoch seconds on the wire) and a binary value is bytes (base64 on the wire). What
    the stream holds, and what a reader gets back from botocore, do not change
    (tests/integration/test_local_stream_reads.py compares the two).
    """
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    def wire(value: Any) -> float | str:
        if isinstance(value, datetime):  # UTC, to the millisecond, as moto's serializer gives it
            return calendar.timegm(value.utctimetuple()) + (value.microsecond // 1000) / 1000
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
        raise TypeError(f"not JSON: {type(value).__name__}")

    def get_records(self: Any) -> str:
        limit = self._get_param("Limit")
        answer = self.backend.get_records(self._get_param("ShardIterator"), 1000 if limit is None else limit)
        return json.dumps(answer, default=wire)

    with _replaced(DynamoDBStreamsHandler, "get_records", get_records):
        yield


@contextlib.contextmanager
def untracked_models() -> Iterator[None]:
    """Stop moto keeping every model object it ever made.

    moto's `BaseModel.__new__` appends each new instance to a list on its class
    (`instances_tracked`, for the moto server's `/moto-api/data.json` page), and
    nothing removes it: every DynamoDB `Item` moto builds (each item written, and
    each copy it makes to project or answer a read) stays in memory for the life
    of the process. `make soak` found the local stack growing 22 MB a minute
    under mixed traffic, 24 KB for each item added to the table where moto's
    items themselves take 2 to 3 KB. Nothing here reads those lists (the local
    stage does not serve moto's dashboard), so while this is active new objects
    are not tracked, and what was tracked before is let go.
    """
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import reset_model_data

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    with _replaced(BaseModel, "__new__", staticmethod(new)):
        reset_model_data()
        yield


class EmbeddedAws:
    """moto's server on loopback; with `state_dir`, its state is restored on start and saved as it changes."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state_dir: Path | None = None) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self._app = DomainDispatcherApplication(create_backend_app)
        self._state = LocalState(state_dir) if state_dir is not None else None
        self._serialised = _Serialised(self._app, self._state)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server: BaseWSGIServer = make_server(host, port, self._serialised, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-aws", daemon=True)
        self.restored: Restored | None = None
        self.compacted: Compacted | None = None

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        if not isinstance(host, str):  # only AF_UNIX addresses are bytes, and this server is TCP
            raise TypeError(f"not a TCP address: {host!r}")
        return f"http://{host}:{port}"

    def start(self) -> EmbeddedAws:
        # Requests are serialised (above), so the patches' shared state is safe here.
        self._snapshots = contextlib.ExitStack()
        self._snapshots.enter_context(light_transaction_snapshots())
        self._snapshots.enter_context(partition_queries())
        self._snapshots.enter_context(untracked_models())
        self._snapshots.enter_context(plain_stream_reads())
        if self._state is not None:
            try:
                self.restored = self._state.open(self._app)  # before the first request is served
            except BaseException:
                self._server.server_close()
                self._state.close()
                self._snapshots.__exit__(None, None, None)
                raise
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; with a state directory, save the state as a snapshot and let go of it."""
        self._server.shutdown()
        self._server.server_close()
        try:
            if self._state is not None:
                with self._serialised.lock:  # a request still in flight finishes first
                    self.compacted = self._state.compact(self._app)
        finally:
            if self._state is not None:
                self._state.close()
            self._snapshots.__exit__(None, None, None)
