"""The table is defined once: the models must agree with store/table.py."""

from chalicelib.store import models, models_wechat_pay, table

INDEXED = (models.Member, models.Lot, models_wechat_pay.WeChatPayOrder, models_wechat_pay.WeChatPayRefund)


def test_every_model_index_is_defined_in_the_table_definition_with_the_same_keys():
    defined = {i.name: i for i in table.INDEXES}
    for model in INDEXED:
        for index in model._get_schema()["global_secondary_indexes"]:
            definition = defined[index["index_name"]]
            keys = {k["KeyType"]: k["AttributeName"] for k in index["key_schema"]}
            assert keys.get("HASH") == definition.hash_key
            assert keys.get("RANGE") == definition.range_key
            assert index["projection"]["ProjectionType"] == definition.projection


def test_every_defined_index_is_used_by_a_model():
    used = {i["index_name"] for m in INDEXED for i in m._get_schema()["global_secondary_indexes"]}
    assert used == {i.name for i in table.INDEXES}


def test_the_base_model_uses_the_table_keys_and_ttl():
    schema = models.BaseItem._get_schema()
    assert {k["AttributeName"]: k["KeyType"] for k in schema["key_schema"]} == {table.HASH_KEY: "HASH", table.RANGE_KEY: "RANGE"}
    assert models.BaseItem.ttl.attr_name == table.TTL_ATTRIBUTE
