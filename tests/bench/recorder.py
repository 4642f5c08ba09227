"""Count AWS calls with botocore's event hooks, and price the DynamoDB ones.

PynamoDB builds its own botocore client from a fresh `botocore.session`
(one per thread), boto3 builds others: `install()` wraps
`botocore.session.Session.create_client` so that every client created
afterwards gets a `before-call` and an `after-call` handler. One API call is
one round trip (botocore's own retries happen below `before-call`; moto never
throttles, so here every call is one HTTP exchange).

Under moto, the handlers also look at the table's stored item before and
after each write (moto's backend, in process), which gives exact item sizes
for updates and index changes. Without moto the request's own item is used.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import botocore.session

from . import capacity

ENTITY_ATTRIBUTE = "type"


@dataclass
class ItemCost:
    action: str  # Get | Query | Put | Update | Delete | ConditionCheck
    entity: str
    size: int
    rru: float = 0.0
    wru: float = 0.0
    gsi_wru: float = 0.0
    gsi_detail: str = ""


@dataclass
class Call:
    service: str
    operation: str
    request_bytes: int = 0
    response_bytes: int = 0
    index: str | None = None
    consistent: bool = False
    error: str | None = None
    items: list[ItemCost] = field(default_factory=list)
    seconds: float = 0.0  # from before-call to after-call: the request, moto's work, the parsing
    cpu_seconds: float = 0.0  # the calling thread's CPU time over the same span (moto's work, under mock_aws)

    @property
    def rru(self) -> float:
        return sum(i.rru for i in self.items)

    @property
    def wru(self) -> float:
        return sum(i.wru for i in self.items)

    @property
    def gsi_wru(self) -> float:
        return sum(i.gsi_wru for i in self.items)

    def label(self) -> str:
        if self.service != "dynamodb":
            return f"{self.service}.{self.operation}"
        name = self.operation
        if self.index:
            name += f"[{self.index}]"
        elif self.operation in ("GetItem", "Query", "BatchGetItem", "Scan"):
            name += "[strong]" if self.consistent else "[eventual]"
        if self.operation.startswith("Transact") or self.operation.startswith("Batch"):
            parts = ", ".join(f"{i.action} {i.entity}" for i in self.items)
            name += f"({parts})"
        elif self.operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
            name += f"({self.items[0].entity})" if self.items else ""
        elif self.operation in ("Query", "Scan"):
            found = [i for i in self.items if i.size]
            kinds = sorted({i.entity for i in found})
            name += f"({len(found)} item{'' if len(found) == 1 else 's'}{': ' + ', '.join(kinds) if kinds else ''})"
        if self.error:
            name += f" -> {self.error}"
        return name


class DynamoDBCalls:
    """What a measurement's DynamoDB calls (among its recorded `calls`) add up to: round trips,
    read and write capacity units (an index's write units included)."""

    calls: list[Call]

    @property
    def dynamodb(self) -> list[Call]:
        return [c for c in self.calls if c.service == "dynamodb"]

    @property
    def round_trips(self) -> int:
        return len(self.dynamodb)

    @property
    def rru(self) -> float:
        return sum(c.rru for c in self.dynamodb)

    @property
    def wru(self) -> float:
        return sum(c.wru + c.gsi_wru for c in self.dynamodb)


def _entity(item: dict[str, Any] | None, key: dict[str, Any] | None = None) -> str:
    for source in (item, key):
        if source and ENTITY_ATTRIBUTE in source:
            return str(next(iter(source[ENTITY_ATTRIBUTE].values())))
    if key:
        # The sort key's prefix names the entity (chalicelib/store/keys.py).
        values = [str(next(iter(v.values()))).split("#")[0] for v in key.values()]
        return _ENTITY_BY_SK_PREFIX.get(values[-1], "#".join(values))
    return "?"


_ENTITY_BY_SK_PREFIX = {
    "PROFILE": "Member",
    "LEDGER": "LedgerEntry",
    "LOT": "Lot",
    "REDEMPTION": "Redemption",
    "COUPON": "Coupon",
    "GUARD": "PhoneGuard",
    "CODE": "VerificationCode",
    "ATTEMPTS": "CodeAttempts",
    "SENT": "SendThrottle",
    "REFCODE": "ReferralCode",
    "ORDER": "Order",
    "REFUND": "Refund",
    "REWARD": "Reward",
    "APIKEY": "ApiKey",
}


class _MotoPeek:
    """Read moto's stored items and table schema in process (None when not under moto)."""

    def __init__(self, region: str) -> None:
        self.region = region

    def table(self, name: str) -> Any:
        try:
            from moto.dynamodb.models import dynamodb_backends
        except ImportError:
            return None
        for account in list(dynamodb_backends.keys()):
            try:
                backend = dynamodb_backends[account][self.region]
            except KeyError:
                continue
            table = backend.tables.get(name)
            if table is not None:
                return table
        return None

    def item(self, table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        table = self.table(table_name)
        if table is None:
            return None
        try:
            from moto.dynamodb.models.dynamo_type import DynamoType

            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            found = table.get_item(hash_value, range_value)
        except Exception:
            return None
        return json.loads(json.dumps(found.to_json()["Attributes"], default=str)) if found else None

    def key_of(self, table_name: str, item: dict[str, Any]) -> dict[str, Any]:
        table = self.table(table_name)
        names = [table.hash_key_attr, table.range_key_attr] if table is not None else ["pk", "sk"]
        return {n: item[n] for n in names if n and n in item}

    def indexes(self, table_name: str) -> list[tuple[str, list[str], list[str], str]]:
        """(name, index key attributes, table key attributes, projection type) per GSI."""
        table = self.table(table_name)
        if table is None:
            return []
        table_keys = [k for k in (table.hash_key_attr, table.range_key_attr) if k]
        return [(i.name, list(i.schema_key_attrs), table_keys, (i.projection or {}).get("ProjectionType", "ALL")) for i in table.global_indexes]


class Recorder:
    """Collects calls between `start()` and `stop()`; counts every call in `total`."""

    def __init__(self) -> None:
        self._calls: list[Call] | None = None
        self._price = True
        self.total: dict[str, int] = {}
        self._original: Any = None

    # -- installation -------------------------------------------------------

    def install(self) -> None:
        if self._original is not None:
            return
        original = botocore.session.Session.create_client
        recorder = self

        def create_client(session: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
            client = original(session, service_name, *args, **kwargs)
            recorder.attach(client)
            return client

        self._original = original
        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            botocore.session.Session.create_client = self._original  # type: ignore[method-assign]
            self._original = None

    def attach(self, client: Any) -> None:
        service = client.meta.service_model.service_name
        peek = _MotoPeek(client.meta.region_name)
        client.meta.events.register("before-call", lambda **kw: self._before(service, peek, **kw))
        client.meta.events.register("after-call", lambda **kw: self._after(service, peek, **kw))

    # -- measuring ----------------------------------------------------------

    def start(self, *, price: bool = True) -> None:
        """Collect calls from now on; with `price=False` only time them (no peeking at moto's
        items, no sizes), so the recorder's own work stays out of the app's time."""
        self._calls = []
        self._price = price

    def stop(self) -> list[Call]:
        calls, self._calls = self._calls or [], None
        return calls

    # -- handlers -----------------------------------------------------------

    def _before(self, service: str, peek: _MotoPeek, *, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        self.total[service] = self.total.get(service, 0) + 1
        if self._calls is None:
            return
        body = params.get("body") or b""
        call = Call(service=service, operation=model.name, request_bytes=len(body) if isinstance(body, bytes | str) else 0)
        context["bench_call"] = call
        if service != "dynamodb" or not self._price:
            context["bench_started"], context["bench_cpu"] = time.perf_counter(), time.thread_time()
            return
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            request = {}
        context["bench_request"] = request
        context["bench_before"] = [(t, k, peek.item(t, k)) for t, k, _a, _i in _write_targets(model.name, request, peek)]
        context["bench_started"], context["bench_cpu"] = time.perf_counter(), time.thread_time()

    def _after(
        self, service: str, peek: _MotoPeek, *, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        call: Call | None = context.pop("bench_call", None)
        if call is None or self._calls is None:
            return
        call.seconds = time.perf_counter() - context.pop("bench_started", time.perf_counter())
        call.cpu_seconds = time.thread_time() - context.pop("bench_cpu", time.thread_time())
        # A streamed body (S3 GetObject) is the caller's to read: reading it here would leave it empty.
        content = b"" if model.has_streaming_output else getattr(http_response, "content", b"") or b""
        call.response_bytes = len(content)
        error = parsed.get("Error", {}).get("Code") if isinstance(parsed, dict) else None
        call.error = error
        if service == "dynamodb" and "bench_request" in context:
            request = context.pop("bench_request", {})
            before = context.pop("bench_before", [])
            _price(call, model.name, request, parsed, before, peek)
        self._calls.append(call)


def _write_targets(operation: str, request: dict[str, Any], peek: _MotoPeek) -> list[tuple[str, dict[str, Any], str, dict[str, Any] | None]]:
    """(table, key, action, request item) of every item a write touches."""
    targets: list[tuple[str, dict[str, Any], str, dict[str, Any] | None]] = []
    if operation == "PutItem":
        table = request["TableName"]
        targets.append((table, peek.key_of(table, request["Item"]), "Put", request["Item"]))
    elif operation in ("UpdateItem", "DeleteItem"):
        targets.append((request["TableName"], request["Key"], operation.removesuffix("Item"), None))
    elif operation == "TransactWriteItems":
        for entry in request.get("TransactItems", []):
            ((action, spec),) = entry.items()
            table = spec["TableName"]
            if action == "Put":
                targets.append((table, peek.key_of(table, spec["Item"]), "Put", spec["Item"]))
            else:
                targets.append((table, spec["Key"], action, None))
    elif operation == "BatchWriteItem":
        for table, writes in request.get("RequestItems", {}).items():
            for write in writes:
                if "PutRequest" in write:
                    item = write["PutRequest"]["Item"]
                    targets.append((table, peek.key_of(table, item), "Put", item))
                else:
                    targets.append((table, write["DeleteRequest"]["Key"], "Delete", None))
    return targets


def _price(call: Call, operation: str, request: dict[str, Any], parsed: dict[str, Any], before: list[Any], peek: _MotoPeek) -> None:
    consistent = bool(request.get("ConsistentRead"))
    call.index = request.get("IndexName")
    call.consistent = consistent and not call.index
    if operation == "GetItem":
        item = parsed.get("Item")
        size = capacity.item_size(item)
        call.items.append(ItemCost("Get", _entity(item, request.get("Key")), size, rru=capacity.read_units(size, consistent=consistent)))
    elif operation in ("Query", "Scan"):
        items = parsed.get("Items", []) or []
        sizes = [capacity.item_size(i) for i in items]
        units = capacity.read_units(sum(sizes), consistent=call.consistent)
        if not items:  # a Query that finds nothing still costs the minimum
            call.items.append(ItemCost(operation, "(no item)", 0, rru=units))
        for n, (item, size) in enumerate(zip(items, sizes, strict=True)):
            call.items.append(ItemCost(operation, _entity(item), size, rru=units if n == 0 else 0.0))
    elif operation in ("BatchGetItem", "TransactGetItems"):
        transactional = operation == "TransactGetItems"
        wanted: list[tuple[str, dict[str, Any], bool]] = []
        if transactional:
            for entry in request.get("TransactItems", []):
                spec = entry["Get"]
                wanted.append((spec["TableName"], spec["Key"], True))
            found_items = [r.get("Item") for r in parsed.get("Responses", [])]
        else:
            for table, spec in request.get("RequestItems", {}).items():
                wanted += [(table, key, bool(spec.get("ConsistentRead"))) for key in spec.get("Keys", [])]
            found_items = [i for items in parsed.get("Responses", {}).values() for i in items]
        call.consistent = all(c for _t, _k, c in wanted)
        for _table, key, strong in wanted:
            item = next((i for i in found_items if i and all(i.get(k) == v for k, v in key.items())), None)
            size = capacity.item_size(item)
            entity = _entity(item, key) if item else f"{_entity(None, key)} (absent)"
            call.items.append(ItemCost("Get", entity, size, rru=capacity.read_units(size, consistent=strong, transactional=transactional)))
    else:
        _price_writes(call, operation, request, before, peek)


def _price_writes(call: Call, operation: str, request: dict[str, Any], before: list[Any], peek: _MotoPeek) -> None:
    transactional = operation == "TransactWriteItems"
    failed = call.error is not None
    targets = _write_targets(operation, request, peek)
    before_by_key = {json.dumps([t, k], sort_keys=True): b for t, k, b in before}
    for table, key, action, request_item in targets:
        old = before_by_key.get(json.dumps([table, key], sort_keys=True))
        new = old if failed else peek.item(table, key)
        if new is None and action == "Put" and not failed and peek.table(table) is None:
            new = request_item  # not under moto: the request's item is what was written
        sizes = [capacity.item_size(old), capacity.item_size(new)]
        if failed and request_item is not None:
            sizes.append(capacity.item_size(request_item))  # a cancelled write is billed as attempted
        size = max(sizes)
        cost = ItemCost(action, _entity(new or request_item or old, key), size, wru=capacity.write_units(size, transactional=transactional))
        if action == "ConditionCheck":
            cost.wru = capacity.write_units(capacity.item_size(old), transactional=True)
        notes = []
        for name, index_keys, table_keys, projection in peek.indexes(table):
            units, what = capacity.index_write_units(old, new, index_keys=index_keys, table_keys=table_keys, projection=projection)
            if units:
                cost.gsi_wru += units
                notes.append(f"{name} {what} {units:g}")
        cost.gsi_detail = "; ".join(notes)
        call.items.append(cost)
