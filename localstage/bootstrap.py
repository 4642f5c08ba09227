"""Create what the deployed stack would: the table, the rules and signing-key
parameters, the SES sender, the local merchant key and a starter catalogue.

Used by `make run` against the embedded endpoint and by the tests under moto.
The local stage keeps its data (persistence.py), so this runs on every start
and creates only what is missing: it never overwrites the rules, the signing
key (tokens already issued stay valid) or the merchant key's record (a
revoked key stays revoked). The starter catalogue comes with a new table only,
so rewards an operator retired or changed stay as they are.
"""

from __future__ import annotations

import contextlib
import functools
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.codes import key_digest
from chalicelib.domain.rules import DEFAULT_RULES
from chalicelib.settings import Settings
from chalicelib.store import keys, table
from chalicelib.store.job_queue import MAX_RECEIVES

LOCAL_MERCHANT_KEY = "local-dev-key"

STARTER_REWARDS: tuple[dict[str, Any], ...] = (
    {"reward_id": "coffee", "name": "免费咖啡 Free coffee", "points_cost": 500, "stock": None},
    {"reward_id": "tote-bag", "name": "Tote bag", "points_cost": 2000, "stock": 50},
    {"reward_id": "voucher-50", "name": "¥50 voucher", "points_cost": 5000, "stock": 10},
)


def bootstrap(settings: Settings, session: Any, *, rules_json: str | None = None) -> bool:
    """Create what is missing; True if the table was new (a first start, or after `make reset`)."""
    dynamodb = session.client("dynamodb")
    created = not _table_exists(dynamodb, settings.table_name)
    if created:
        table.create_table(dynamodb, settings.table_name)
    else:
        table.add_missing_indexes(dynamodb, settings.table_name)  # data kept from an older version
        table.enable_stream(dynamodb, settings.table_name)
    # As the stack does (infra/stack.py): the analytics export reads the point-in-time backup.
    dynamodb.update_continuous_backups(TableName=settings.table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    ssm = session.client("ssm")
    _put_parameter_if_absent(ssm, settings.rules_parameter, rules_json or DEFAULT_RULES.model_dump_json(indent=2), "String")
    # A generated signing key, as the deployed stack generates one in Secrets Manager/SSM.
    _put_parameter_if_absent(ssm, settings.signing_key_parameter, secrets.token_urlsafe(48), "SecureString")
    # The WeChat app secrets, generated: only the local fake of WeChat (wechat_fake.py) knows them.
    local_wechat = {settings.wechat_mini_program_appid: secrets.token_hex(16), settings.wechat_official_account_appid: secrets.token_hex(16)}
    _put_parameter_if_absent(ssm, settings.wechat_secrets_parameter, json.dumps(local_wechat), "SecureString")
    session.client("ses").verify_email_identity(EmailAddress=settings.email_sender)
    create_job_queues(settings, session)
    create_event_routes(settings, session)
    create_exports_bucket(settings, session)
    create_push_applications(settings, session)
    create_wechat_pay_secrets(settings, session)
    # Brand-wide, so a developer can report for any store_id; issue store keys to try store scope.
    seed_merchant_key(settings, session, LOCAL_MERCHANT_KEY, store_id="local-dev", key_id="key_local_dev", scope="brand")
    if created:
        for reward in STARTER_REWARDS:
            put_reward(settings, session, **reward)
    return created


def wechat_app_secrets(settings: Settings, session: Any) -> dict[str, str]:
    """The local stage's WeChat app secrets (appid -> secret), for the fake of WeChat."""
    raw = session.client("ssm").get_parameter(Name=settings.wechat_secrets_parameter, WithDecryption=True)["Parameter"]["Value"]
    return dict(json.loads(raw))


def create_push_applications(settings: Settings, session: Any) -> None:
    """The stage's SNS platform applications for APNs and FCM (moto's), as the stack makes them
    in the cloud; creating one again with the same name returns the same application."""
    sns = session.client("sns")
    for name, platform in ((settings.push_apns_application, "APNS"), (settings.push_fcm_application, "GCM")):
        if name and not name.startswith("arn:"):
            sns.create_platform_application(Name=name, Platform=platform, Attributes={"PlatformCredential": "local-development"})


def put_sms_credentials(settings: Settings, session: Any, credentials: dict[str, str]) -> None:
    """The SMS provider's keys where the service reads them (notify/sms.py): the local stage's
    fakes generate new ones at every start, as a brand rotates its AccessKey in Secrets Manager."""
    value = json.dumps(credentials)
    session.client("ssm").put_parameter(Name=settings.sms_credentials_parameter, Value=value, Type="SecureString", Overwrite=True)


LOCAL_MCHID = "1900000109"


@functools.cache
def _local_wechat_pay_keys() -> tuple[dict[str, str], dict[str, str]]:
    """(the merchant's secret, the fake's keys): two new RSA key pairs and an APIv3 key, once
    per process (tests bootstrap many times; generating keys costs ~0.1 s)."""
    from chalicelib.domain.wechat_pay import new_key_pair

    merchant_private, merchant_public = new_key_pair()
    platform_private, platform_public = new_key_pair()
    apiv3_key = secrets.token_hex(16)  # 32 characters, as WeChat Pay's merchant platform asks
    serial = secrets.token_hex(20).upper()
    platform_id = f"PUB_KEY_ID_{secrets.randbelow(10**20):020d}"
    merchant = {
        "mchid": LOCAL_MCHID,
        "merchant_serial_no": serial,
        "merchant_private_key": merchant_private,
        "apiv3_key": apiv3_key,
        "platform_public_key_id": platform_id,
        "platform_public_key": platform_public,
    }
    fake = {
        "mchid": LOCAL_MCHID,
        "merchant_serial_no": serial,
        "merchant_public_key": merchant_public,
        "platform_public_key_id": platform_id,
        "platform_private_key": platform_private,
        "apiv3_key": apiv3_key,
    }
    return merchant, fake


def fake_wechat_pay_secret_name(settings: Settings) -> str:
    return settings.wechat_pay_secret + "/fake"


def create_wechat_pay_secrets(settings: Settings, session: Any) -> None:
    """The merchant's WeChat Pay secret (what the API reads) and the local fake's keys, generated
    for the local stage; kept once made (the stage's fake reads the same pair on every start)."""
    client = session.client("secretsmanager")
    merchant, fake = _local_wechat_pay_keys()
    # WeChat Pay knows the merchant's bound app: the mini-program WeChat sign-in uses.
    fake = {**fake, "appid": settings.wechat_mini_program_appid}
    for name, value in ((settings.wechat_pay_secret, merchant), (fake_wechat_pay_secret_name(settings), fake)):
        with contextlib.suppress(client.exceptions.ResourceExistsException):
            client.create_secret(Name=name, SecretString=json.dumps(value))


def _table_exists(dynamodb: Any, table_name: str) -> bool:
    try:
        dynamodb.describe_table(TableName=table_name)
    except dynamodb.exceptions.ResourceNotFoundException:
        return False
    return True


def _put_parameter_if_absent(ssm: Any, name: str, value: str, kind: str) -> None:
    with contextlib.suppress(ssm.exceptions.ParameterAlreadyExists):
        ssm.put_parameter(Name=name, Value=value, Type=kind, Overwrite=False)


def seed_merchant_key(settings: Settings, session: Any, api_key: str, *, store_id: str, key_id: str, scope: str = "store") -> None:
    """The key and its registry entry, each unless it exists (so never un-revoked)."""
    created_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")
    _put_if_absent(
        session,
        settings,
        {
            "pk": {"S": keys.apikey_pk(key_digest(api_key))},
            "sk": {"S": keys.APIKEY_SK},
            "type": {"S": "ApiKey"},
            "key_id": {"S": key_id},
            "store_id": {"S": store_id},
            "scope": {"S": scope},
            "status": {"S": "active"},
            "created_at": {"S": created_at},
        },
    )
    # Its registry entry, so operators see (and can revoke) it like any issued key.
    _put_if_absent(
        session,
        settings,
        {
            "pk": {"S": keys.APIKEYS_PK},
            "sk": {"S": keys.apikey_record_sk(key_id)},
            "type": {"S": "ApiKeyRecord"},
            "key_id": {"S": key_id},
            "store_id": {"S": store_id},
            "scope": {"S": scope},
            "digest": {"S": key_digest(api_key)},
            "status": {"S": "active"},
            "created_at": {"S": created_at},
        },
    )


def _put_if_absent(session: Any, settings: Settings, item: dict[str, Any]) -> None:
    dynamodb = session.client("dynamodb")
    with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(TableName=settings.table_name, Item=item, ConditionExpression="attribute_not_exists(pk)")


def put_reward(settings: Settings, session: Any, *, reward_id: str, name: str, points_cost: int, stock: int | None) -> None:
    item: dict[str, Any] = {
        "pk": {"S": keys.REWARD_PK},
        "sk": {"S": keys.reward_sk(reward_id)},
        "type": {"S": "Reward"},
        "reward_id": {"S": reward_id},
        "name": {"S": name},
        "points_cost": {"N": str(points_cost)},
        "active": {"BOOL": True},
    }
    if stock is not None:
        item["stock"] = {"N": str(stock)}
    session.client("dynamodb").put_item(TableName=settings.table_name, Item=item)


def create_job_queues(settings: Settings, session: Any) -> None:
    """The jobs' work queue and its dead-letter queue (5 receives, as deployed)."""
    _queue_with_dead_letters(session.client("sqs"), settings.jobs_queue_name, visibility_seconds=960)


def _queue_with_dead_letters(sqs: Any, name: str, *, visibility_seconds: int) -> None:
    """A queue and its `-dlq`, where a message lands after MAX_RECEIVES (5) receives (as deployed)."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)})
    sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": str(visibility_seconds)})


def create_event_routes(settings: Settings, session: Any) -> None:
    """The stage's event bus, and the webhook delivery queue with its dead-letter queue (5 receives:
    only a worker that keeps crashing on a message lands it there; failed deliveries are retried
    and dead-lettered by the worker itself, usecases/webhooks.py)."""
    events = session.client("events")
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=settings.event_bus_name)
    _queue_with_dead_letters(session.client("sqs"), settings.webhooks_queue_name, visibility_seconds=60)


def create_exports_bucket(settings: Settings, session: Any) -> None:
    """The bucket for files handed out by a pre-signed URL (store/exports.py), the analytics
    engine's bucket (store/audiences.py) and the bulk imports' bucket (store/import_files.py), as deployed."""
    s3 = session.client("s3")
    for bucket in (settings.exports_bucket, settings.analytics_bucket, settings.import_bucket):
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            s3.create_bucket(Bucket=bucket)
