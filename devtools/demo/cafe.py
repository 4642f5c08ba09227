"""The café chain the demo makes: its stores, menu, rewards, and the words its
members and staff use. Data only; amounts in fen (minor units of CNY)."""

from __future__ import annotations

from dataclasses import dataclass

CHAIN = "青禾咖啡 Qinghe Coffee"
CURRENCY = "CNY"


@dataclass(frozen=True)
class Store:
    store_id: str
    name: str
    short_name: str  # as members write it
    order_prefix: str  # a till prefixes its order ids: they are unique across the brand
    weight: float  # share of members who call it their home store


STORES = (
    Store("qh-jingan", "静安寺店 Jing'an Temple", "静安寺店", "JA", 0.45),
    Store("qh-xuhui", "徐汇滨江店 Xuhui Riverside", "徐汇滨江店", "XH", 0.35),
    Store("qh-lujiazui", "陆家嘴店 Lujiazui", "陆家嘴店", "LJZ", 0.20),
)
STORE_BY_ID = {s.store_id: s for s in STORES}

DRINKS = (2800, 3200, 3500, 3400, 4200, 3300, 3400)  # americano, latte, oat latte, flat white, pour-over, cold brew, matcha latte
FOOD = (1800, 3600, 3800, 1600)  # croissant, sandwich, cheesecake, scone
RETAIL = (9800, 16800, 12800)  # beans 250 g, drip-bag gift box, tumbler


@dataclass(frozen=True)
class Reward:
    reward_id: str
    name: str
    points_cost: int
    stock: int | None


# Created through the operator API (POST /v1/admin/rewards), cheapest first.
REWARDS = (
    Reward("qh-croissant", "可颂一个 Croissant", 200, None),
    Reward("qh-americano", "美式咖啡一杯 Americano", 300, None),
    Reward("qh-latte", "拿铁一杯 Latte", 400, None),
    Reward("qh-beans", "咖啡豆 250g Coffee beans", 1500, 60),
    Reward("qh-tumbler", "青禾随行杯 Tumbler", 2500, 20),
)
REWARD_BY_ID = {r.reward_id: r for r in REWARDS}

SURNAMES = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"), ("黄", "huang"),
    ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"),
    ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("林", "lin"), ("高", "gao"), ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"),
)  # fmt: skip
GIVEN_NAMES = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("强", "qiang"),
    ("磊", "lei"), ("洋", "yang"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"),
    ("超", "chao"), ("秀英", "xiuying"), ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("子涵", "zihan"),
    ("欣怡", "xinyi"), ("梓轩", "zixuan"), ("浩然", "haoran"), ("雨桐", "yutong"), ("思远", "siyuan"),
    ("一诺", "yinuo"), ("宇轩", "yuxuan"), ("佳琪", "jiaqi"), ("晓东", "xiaodong"), ("婷婷", "tingting"),
)  # fmt: skip
# A few members go by an English name, as some do in Shanghai offices.
ENGLISH_NAMES = ("Emily Chen", "Kevin Zhang", "Grace Lin", "Jason Wu", "Sophie Li", "David Zhou")
MAIL_DOMAINS = ("example.com", "example.cn", "example.net")

DISTRICTS = (
    ("静安区", "南京西路1266号"),
    ("静安区", "愚园路68号"),
    ("徐汇区", "龙腾大道2555号"),
    ("徐汇区", "衡山路8号"),
    ("浦东新区", "世纪大道100号"),
    ("浦东新区", "陆家嘴环路1000号"),
    ("黄浦区", "淮海中路300号"),
)
PREFERENCES = ("oat-milk", "decaf", "pour-over", "cold-brew", "less-sugar", "pastry", "takeaway")

# (category, text, operator's answer or None); `{store}` is the store of the visit written about.
# Members write in Chinese; operators answer some.
FEEDBACK = (
    ("store", "{store}周六上午排队太久了，能不能多开一个收银台？", "感谢反馈！周末上午我们已增加一名收银员。"),
    ("store", "{store}的座位很舒服，就是插座有点少。", "谢谢建议，下个月会在靠窗一排加装插座。"),
    ("service", "{store}的店员很热情，还记得我的口味，点赞！", "谢谢您的鼓励，我们会转达给门店伙伴。"),
    ("product", "燕麦拿铁的奶泡好像比以前少了。", "非常抱歉，已提醒门店按标准出品，欢迎再来品尝。"),
    ("product", "希望能出无糖的季节限定款。", None),
    ("product", "今天的可颂有点硬，不太新鲜。", "抱歉给您不好的体验，已请门店检查烘焙时间。"),
    ("service", "外带的咖啡洒了一些，杯盖没有盖紧。", None),
    ("app", "积分记录能不能显示是哪家门店的消费？", None),
    ("points", "上周的消费积分好像没有到账，麻烦查一下。", "已核实，积分已在您的账户中，感谢耐心等待。"),
    ("points", "积分什么时候过期？希望提醒能早一点。", None),
)
