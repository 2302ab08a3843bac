"""Word classes of the check-in reading: the check-in keywords and done sentences, and the moods
around them (question, reminder, negation, another day, later, for someone else)."""

from __future__ import annotations

import re
from functools import lru_cache

from .normalize import _normalize

# ---------------------------------------------------------------------------------------------------
# keyword analysis

_DEFAULT_KEYWORDS = r"""
      打(?:个|一下|一个|下|了|完|上|好)?卡 | 卡已打 | 签到
    | 已更(?!改|换|正|名|替|衣) | 日更 | 更文 | 连更 | 双更 | (?<![变更断停])更(?:了|完|好了)
    | 第\ *[0-9一二两三四五六七八九十]+\ *更
    | 已更新 | 更新(?:了|完|好) | 今[日天]更新
    | 已发(?!现|生|烧|展|育|言|送|誓|财|火|芽|给) | 已发布 | 已发表 | 发布了 | 发完
    | 发了(?:[0-9一二两三四五六七八九十几]*[篇条]|笔记|新笔记|小红书) | (?:我|今天|今日|也|都)(?:已经?)?发了 | 已投稿
    | 笔记(?:已经?|都)?(?:发|发布|更新|发好|写好)(?:了|啦|好)
    | 交作业 | 交了作业 | 作业(?:已经?|都)?(?:交|提交) | 提交(?:了)?作业 | 已提交 | 已交
    | 完成(?!度|率|情况) | 搞定
    | (?<![a-z])day\ *\d+ | 第\ *[0-9零〇一二两三四五六七八九十百千]+\ *[天篇]
    | (?<![a-z])(?:done|check(?:ed|ing)?[ -]?in)(?![a-z])
    | [✅☑✔✓]
    | 交稿 | 交付(?!时间|日期)
"""
# Today's work reported done without a check-in word ("今天的两章读完啦", "素描作业画完了", "跑完5公里",
# "今天游了1000米", "5:40就起了", "finished today's reading", "ran 8k this morning"). Read with the same
# checks as a keyword (question, negation, another day, plan, someone else...), named "done" in the reason.
# practice verbs of the camps (reading, writing, drawing, sport, music, language, coding, meditation, diet)
# (one-character verbs as a character class: one test per position, which keeps the keyword scan fast)
_ACTS = (
    r"(?:跟读|朗读|背诵|复习|预习|临摹|默写|上色|冥想|拉伸|训练|练习|健身|翻译|撸铁"
    r"|[读看写画练跑背做跟拍学听录游跳啃煮烤抄弹骑剪走爬描唱吹拉敲刷念吃喝坐码改修调算解记临])"
)
# a count with its unit: how much of the practice was done ("10公里", "六遍", "两页", "400米", "1h")
_AMOUNT = (
    r"(?:[0-9][0-9.]*|[一二两三四五六七八九十百半几]+) \s* "
    r"(?:公里|千米|km|k(?![a-z])|米|m(?![a-z])|页|章|篇|遍|次|组|本|首|张|幅|字|题|道|节|课|集|圈|步|个单词|单词|分钟|min|小时|h(?![a-z]))"
)
_DONE_WORDS = rf"""
      {_ACTS} \s* (?:完 (?=[了啦咯喽啰嘞哒发交0-9一二两三四五六七八九十半]|\s|$) | (?:出来|通|过) \s* [了啦咯])
    | [写画拍做录剪烤煮临跑练] \s* 好 (?=[了啦咯喽啰嘞哒]|\s|$)
    | {_ACTS} \s* 了 \s* {_AMOUNT}
    | (?:交|发|传|贴|晒|提交|上传) \s* (?:上去|出去) \s* (?:了|啦|咯)?
    | (?:全部|都|已经?|终于)\s*通过 | (?:卡点|卡着点|踩点|踩着点|掐点|压线)\s*(?:成功|来了|到了|完成)
    | (?:刚刚?|已经|终于|总算) \s* {_ACTS} \s* 完
    | 上完色
    | (?:今天|今日|今早|今儿|早上|上午|中午|下午|刚刚?) [^,.!?;:\n没不未别想要准打会再如等]{{0,10}}?
      (?:{_ACTS}|聊|[a-z]{{2,12}}\ ?) 了 (?!一半)
    | (?:写|业|稿|品|图|录音) 交了 | 交(?:了)?(?:今天|今日)的[^,.!?;:\s]{{0,6}}作业 | 发出去(?:了|啦)?
    | (?:\d{{1,2}} \s* (?::|点) \s* (?:\d{{1,2}}|半)? \s* 分? \s* (?:就|才|已经)? \s* | 早早就 | 就 | 已经)
      (?:起床|起来|醒来|醒|起|上床|躺下|躺床|躺平|入睡|睡下) (?:了|啦|的|成功)?
    | \d{{1,2}} \s* (?::|点) \s* (?:\d{{1,2}}|半)? \s* 分? \s* 前 \s* (?:就|才|已经)? \s*
      (?:起床|起来|醒来|醒|起|上床|躺下|躺床|躺平|入睡|睡下|睡) (?:了|啦|的|成功)
    | (?:起床|上床|躺下|睡下|睡觉|睡) \s* (?:了|啦|成功)(?![解])| 起来了
    | (?<![a-z])(?:finished|completed|complete|posted|published|submitted|uploaded|nailed\ it
        |(?:post|note|video|article|essay|homework|workout)s?\ +(?:is|are)\ +up
        |up\ +at\ +\d|woke\ +up\ +at)(?![a-z])
    | (?<![a-z])(?:ran|swam|walked|hiked|biked|cycled|rode|lifted|stretched|trained|meditated|journaled
        |wrote|drew|painted|sketched|read|studied|learned|learnt|reviewed|memori[sz]ed|practi[cs]ed
        |shadowed|recorded|cooked|baked|played|did)(?![a-z'’])
"""
_KEYWORDS_RE = re.compile(_DEFAULT_KEYWORDS + " | (?P<done>" + _DONE_WORDS + ")", re.VERBOSE)


@lru_cache(maxsize=64)
def _keyword_re(keywords: tuple[str, ...] | None) -> re.Pattern[str]:
    if keywords is None:
        return _KEYWORDS_RE
    extend = bool(keywords) and keywords[0] == "+"  # ("+", words...): the defaults and these
    words = sorted({_normalize(k).strip() for k in keywords[extend:] if k and k.strip()}, key=len, reverse=True)
    if extend:
        return re.compile(
            _DEFAULT_KEYWORDS + " | (?P<done>" + _DONE_WORDS + ")" + "".join(" | " + re.escape(w) for w in words),
            re.VERBOSE,
        )
    if not words:
        return re.compile(r"(?!x)x")  # matches nothing
    return re.compile("|".join(re.escape(w) for w in words))


# a keyword followed by one of these is a noun ("打卡规则"), not the act
_NOUN_AFTER_RE = re.compile(
    r"\s*(?:规则|要求|时间|方式|方法|格式|链接|群|表|记录|天数|次数|率|情况|统计|提醒|截止|入口|功能|小程序|机器人"
    r"|助手|的人|的同学|的小伙伴|的伙伴|的宝|的朋友|名单|开始|接龙|任务|目标|计划|活动|内容|模板|这件事|的事|制度|标准"
    r"|笔记|步骤|说明|流程|须知|指南|教程|法|是(?!不是)|的(?=[\u4e00-\u9fff])(?!第|我|人)"
    # a subordinate "after ..." clause ("完成后@打卡助手", "打卡之后"): a step, not the act
    r"|之后|以后|后(?![天面来悔续悔]))"
)
# phrases that look like a marker below but are not ("不错", "没想到", "大家好")
_NEUTRAL_RE = re.compile(
    r"没想到|不错|不少|不仅|不停|不断|不知不觉|不管|不得不|没事|没问题|不容易|了不起|忍不住|不一样|差不多|不然|一不小心"
    r"|大家好|和大家|跟大家|陪大家|与大家|谢谢大家|感谢大家|不知道(?:怎么|什么|咋|如何|写什么)?|没什么|什么的"
    r"|开会|开完会|会议|会员|学会|体会|机会|社会|约会|聚会|不会吧|去年|过去|目前|没关系|别人|特别|区别|分别|告别"
    # a comparison with another day is about today: "比昨天早了20分钟"
    r"|比(?:昨天|昨晚|前天|上周|之前|以前|平时|平常)"
)
_CLAUSE_RE = re.compile(r"([^,.;!?:，。；！？：、~…\n]*)([,.;!?:，。；！？：、~…\n]*)")
_CONTRAST_RE = re.compile(r"但是|但|不过|可是|然而|还是")

_WH_BEFORE_RE = re.compile(
    r"怎么|怎样|如何|咋|在哪|哪里|哪儿|哪个|哪天|什么|何时|几点|是否|能否|能不能|可不可以|要不要|需不需要|用不用"
    r"|有没有|是不是|会不会|谁|为什么|为啥|多久|啥|(?<![a-z])(?:how|where|when|should|do i|can i)(?![a-z])"
)
_WH_AFTER_RE = re.compile(
    r"怎么|怎样|如何|咋|在哪|哪里|哪儿|哪个|什么|何时|几点|是否|能否|谁|为什么|为啥|多久|啥|吗|么|嘛|呢"
    r"|对吧|是吧|对不对|对嘛|是嘛"
)
_Q_SUFFIX_RE = re.compile(
    r"\s*了?\s*(?:吗|么|嘛|没有?|木有|呢|不(?![\u4e00-\u9fff])|与否|否"
    r"|未(?:呀|啊|吖|呢)?(?![\u4e00-\u9fff]))"
)  # Cantonese "打咗卡未呀"
_REMIND_RE = re.compile(
    r"大家|各位|同学们|伙伴们|宝子们|宝宝们|家人们|姐妹们|朋友们|亲们|小伙伴|你们|记得|别忘|不要忘|莫忘|提醒|督促|催"
    r"|抓紧|赶紧|赶快|(?<!申)请(?!假)|麻烦"
    r"|(?<![a-z])(?:remember|don't forget|please|last call|reminder|(?:min|mins|minutes|hours?) left)(?![a-z])"
    r"|n'oubliez|no olvides"
)
_REMIND_NEAR_RE = re.compile(r"(?:快(?:去|点|来)?|一起|前)$")
# message-level reminder openers: "提醒一下，今晚12点前打卡"
_REMIND_OPENER_RE = re.compile(r"提醒一下|提醒大家|温馨提示|温馨提醒|友情提示|友情提醒|小提醒|通知")
_NEG_NEAR_RE = re.compile(r"还没有?|没有?|未|无法|没法|不能|忘|不好意思|没脸|不敢|懒得")  # within 6 chars before
_NEG_BU_RE = re.compile(r"不|别")  # within 3 chars before
_NEG_FAR_RE = re.compile(
    r"忘|(?<![a-z])(?:not|no|never|haven't|havent|didn't|didnt|won't|can't|cannot|forgot|forget)"
    r"(?![a-z])"
)
# right after the keyword (a filler like 了/都/还 allowed): "打卡还没成功", "更新失败"
_NEG_AFTER_RE = re.compile(
    r"(?:了|都|也|却|又)?\s*(?:还没|没有|没写|没更|没发|没打|没成功|没交|未完成|未更"
    r"|不了|不上|失败|不成|没法|不行)"
)
_MAKEUP_RE = re.compile(
    r"补(?:卡|打|签|更|交|发|一下|一个|个|上|昨|前|做|写|一篇|回|到|记|[哈呀啊哦吧的]|\s*$"
    r"|\s*(?:day\s*\d|第|\d+\s*号|周|星期|礼拜))"
)
# "打卡 补上啦" said the same day reports a done check-in, not a request to credit another day.
_MADE_UP_RE = re.compile(r"补(?:上|好|完|交)(?:了|啦|咯|喽)")
_BARE_MAKEUP_RE = re.compile(
    r"补(?:打?卡|签到?|更|交作业|记|登记)"
    r"|补(?:个|一下|一个|打)?\s*[^,.!?;:\s]{0,6}的\s*(?:打?卡|签到?|更)"
)
_BARE_NEG_RE = re.compile(
    r"(?:还)?没有?(?:更|发笔记|写完|写|读|背|练|跑|画|做|看)|未(?:更|完成|发)|不更|停更|断更"
    r"|卡\s*(?:还)?(?:没|不)[^,.!?;:\s]{0,3}打"
)  # "这卡没脸打"
# a weekday or a date with nothing saying it is not today ("周日", "3号"): a check-in for it may be today's
_BARE_DAY_RE = re.compile(r"(?:周|星期|礼拜)[一二三四五六日天]|\d{1,2}\s*号")
_PAST_RE = re.compile(
    r"昨天|昨日|昨晚|前天|前日|上周|上礼拜|之前|那天|上个月|去年|以前|上一?(?:期|轮|届)"
    r"|[0-9一二两三四五六七八九十几半]{1,4}\s{0,2}个?\s{0,2}(?:天|周|星期|礼拜|月|年)(?:前|之前)"
    r"|(?<![本这每下])(?:周|星期|礼拜)[一二三四五六日天]|(?<![0-9])\d{1,2}\s*号"
    r"|(?<![a-z])(?:yesterday|last\s+(?:night|week))(?![a-z])"
)
_LATER_RE = re.compile(
    r"晚点|晚些|晚一点|等会|等下|等一下|待会|一会|稍后|稍等|明天|明日|明早|明晚|后天|下次|下周|改天|回头|马上|这就"
    r"|立刻|立马|准备|打算|计划|争取|尽量|尽快|努力|等我|即将|将要|今晚(?:再|会|要)|晚上(?:再|会|要)"
)
_LATER_NEAR_RE = re.compile(
    r"(?:(?<![学开体机社约聚理误])会|(?<![过失回出进上下])去|(?<![冥感理思梦回联构设猜幻])想|将"
    r"|(?<![需重主只想])要|应该|应当|(?<![应活])该|可以)$"
)
# epistemic modals: the act is expected, not reported ("估计11点前能搞定"), unless it is marked done
_MODAL_NEAR_RE = re.compile(r"(?<![不没])能够?|估计|可能|大概|预计|应该能|争取")
# 帮/替/给 someone: "帮小王打卡", "替我同事打个卡", "给我外婆打卡" (我 + a relative); but "帮我打卡" asks the
# bot to check the sender in
_KIN = "们妈爸家闺朋同室老儿女娃对外妹姐弟哥孩宝奶爷姥舅姨叔婶公婆舍媳"
# 代 not in 代码 or 代表; 给 only when a check-in or make-up follows soon ("给老婆打卡", not "读给孩子听",
# "发给老师改了", "给闺女读完了")
_PROXY_RE = re.compile(
    rf"(?:帮|替|代(?![码表谢价数词])|给(?=[^\s,.!?;，。！？；]{{0,6}}?[打补签]))(?!我(?![{_KIN}])|大家|自己)"
)
_TODAY_RE = re.compile(r"今天|今日|今儿|现在|刚刚|刚才|今早|today")
# an evening or after-work time before the keyword is a plan, unless the keyword says it is done ("今晚打卡了")
_SOFT_LATER_RE = re.compile(r"今晚|晚上|夜里|睡前|下班|下课|下午|中午|等下班")
_DONE_AFTER_RE = re.compile(r"\s*(?:了|啦|完|好|成功|[✅☑✔✓])")
