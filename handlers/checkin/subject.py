"""Word classes of who acts (the sender, someone else, a name), of plans and conditions, and of task
descriptions and rules."""

from __future__ import annotations

import re

# --- the sentence around a keyword: who does it, in which mood ---------------------------------------

# "赶在12点前打卡", "踩着点打卡": made it in time, not a deadline told to others
_IN_TIME_RE = re.compile(
    r"赶在|赶着|踩着?点|掐点|卡点|卡着点|压线|差点|差一点|险些|ddl|deadline"
    r"|还有\s*[0-9一二两三四五六七八九十几]+\s*分钟"
)
# the subject of the act: the sender ...
_SELF_RE = re.compile(
    r"(?<![比给帮替跟和像让叫陪向对带])(?:我(?![们妈爸家闺朋同室老儿女娃姐哥弟妹])|本人|俺|自己)"
    r"|(?<![a-z])(?:i|i'm|im|i've|ive|my)(?![a-z])"
)
# ... or someone else: a pronoun, a relation, a role, a name ("小雨", "阿杰", "老王", "佳佳姐", "@阿花")
_OTHER_RE = re.compile(
    r"她|(?<![吉其])他|(?<![谢])你(?!一下|一声)|我妈|我爸|我家|闺蜜|朋友|同事|室友|队友|组长|班长|老师|隔壁|全员|大佬|别人"
    r"|人家|老公|老婆|姐妹|有人|好几个|大家都|那位|这位|卷王|大神|学委|班委|课代表|群主|管理员|助教|教练|队长|团长|营长"
    # a number of people: "8个人", "三位同学", "好多人"
    r"|(?:[0-9一二两三四五六七八九十几好多]{1,4}\s{0,2}(?:个|位|名))(?:人|同学|小伙伴|伙伴|成员|学员|姐妹)?(?=都|已|也|今|早|就|跑|读|写|画|打|交|完)"
    # a surname or given name with a kinship or role title: "王姐", "李哥", "张老师", "陈总"
    r"|(?<![我你他她大小老师学表堂])[\u4e00-\u9fff](?:姐|哥|叔|姨|婶|伯)(?![们妹弟])"
    r"|(?<![a-z])(?:she|he|they|her|his|their|you|your)(?![a-z])"
    # an English relation as the subject: "my roommate finished...", "my son read..." ("with my son" is company)
    r"|(?<![a-z])(?<!with\s)my\s+(?:sister|brother|mom|mum|dad|mother|father|friend|wife|husband|son|daughter|kids?"
    r"|colleague|roommate|flatmate|partner|boyfriend|girlfriend|team|classmate|buddy)(?![a-z])"
)
_NAME_RE = re.compile(
    r"@(?!打卡|机器人|助手|bot)[^\s@]{1,12}"
    r"|(?<![谢感和跟陪向比])(?:小(?![时组红书伙朋孩宝程目半学说区心姐妹点事候卡面份技窍白猫狗时])"
    r"|阿(?![姨])|老(?![师公婆是实了年家板大人爸妈样])"
    r")[\u4e00-\u9fff](?=[^\u4e00-\u9fff]|$|的|已|也|今|连|每|还|又|都|就|姐|哥|说|太|真|比|这|那|和|跟|在|是|发|写|画|打"
    r"|更|完|早|同学)"
    r"|([\u4e00-\u9fff])\1(?:姐|哥|子|酱)?"
)
_REDUP_COMMON = frozenset(
    "哈嘿呵嘻天刚常慢好默渐满多试看读点谢嗯乖早稍偷悄宝妈爸姐哥弟妹爷奶个人每久"
    "冲棒呜啊嗷咔打练写画跑背走想聊等一二三四五六七八九十了啦呀哦噢嗯滴哒嘞"
)
# praise or news about someone else ("恭喜小夏完成21天打卡", "Kelly 早起打卡一个月没断过 膜拜", "Well done Ray")
_PRAISE_RE = re.compile(
    r"恭喜|膜拜|佩服|羡慕|太强了|好强|太卷了|好厉害|真厉害|太厉害|服了|快去看|去围观|学习一下|向.{0,3}学习|好认真"
    r"|(?<![a-z])(?:yyds|tql|nb)(?![a-z0-9])|卷王|大神"
    r"|(?<![a-z])(?:well done|congrats|congratulations|good job|great job|proud of|respect|impressive|amazing)(?![a-z])"
)
# a plan or a condition: the act comes after something not done yet
_CONDITION_RE = re.compile(
    r"如果|要是|假如|万一|只要|的话|等(?!等)|准备|打算|计划|争取|回家|下班|睡了|睡前|明天|晚上|今晚|待会|一会"
    r"|(?<![a-z])(?:will|gonna|going to|i'll|ill|if|when|later|tonight|after)(?![a-z])"
)
_PLAN_NEAR_RE = re.compile(r"(?:再|然后|到时候?再?|才)\s*(?:来|去)?\s*(?:打个|打)?\s*$")
_PLAN_AFTER_STEP_RE = re.compile(
    r"(?:完|好)[^,.!?;:\s]{1,4}?(就|再|回来|然后)\s*(?:来|去)?\s*$"  # "背完单词回来打卡"
    r"|(?:完|了|后|起来|好)\s*(就|再|回来|来|去|然后)?\s*(?:来|去)?\s*$"
)
_JUST_DONE_RE = re.compile(r"刚|已经|终于|总算")
# habitual adverbs scope over the act: a habit or a rule, not a report of today
_HABIT_RE = re.compile(r"一般|平时|平常|通常|经常|总是|往往|一向|向来|习惯(?!了)|每次都|基本上都")
_IF_RE = re.compile(r"如果|要是|假如|万一|只要|的话|(?<![a-z])if(?![a-z])")
_EN_LATER_BEFORE_RE = re.compile(
    r"(?<![a-z])(?:will|gonna|going to|i'll|ill|plan to|want to|need to|have to|should|must)(?![a-z])"
)
_EN_LATER_AFTER_RE = re.compile(r"\s*(?:later|tonight|tomorrow|after|soon|when)(?![a-z])")
_EN_PROXY_AFTER_RE = re.compile(
    r"\s*for\s+(?:my\s+)?(?:sister|brother|mom|mum|dad|mother|father|friend|wife|husband|son|daughter|kid"
    r"|colleague|roommate|her|him|them)(?![a-z])"
)
# no check-in word, but a later act: "明天早上修改完再发"
_BARE_LATER_RE = re.compile(r"再(?:发|更|交)|(?:明天|明早|明晚|晚点|回头|下次)[^,.!?;:\n]{0,6}?(?:发|更|交)")
# a vocative clause ("老师好", "各位晚上好") names the hearer, not the one who acts
_VOCATIVE_END_RE = re.compile(
    r"(?:老师|各位|大家|姐妹们|宝子们|家人们|组长|班长|亲们|你|您)\s*(?:早上|晚上|中午|下午)?\s*(?:好|早|辛苦了|辛苦啦)\W*$"
)
# task descriptions and rules: a header ("本周任务：", "打卡说明：") and generic wording, or a rule's phrasing
# the header nouns of a task or rule text, in Chinese and English, and an explanation frame ("是这样的：")
_RULE_HEADER_RE = re.compile(
    r"(?:规则|说明|步骤|流程|安排|任务|作业|主题|格式|要求|须知|示例|题目|画题|题|课表|日程|计划表|时间表|清单|玩法|方式|训练|待办|タスク"
    r"|(?<![a-z])(?:task|tasks|rules?|homework|assignment|todo|to-do|challenge|plan|schedule|prompts?))\s*(?::|是|】)"
    r"|(?:这样的|如下|以下)\s*:"
)
# words addressed to newcomers ("新同学别慌", "新朋友看这里"): with generic wording, a description of the rules
_NEWCOMER_RE = re.compile(r"新(?:同学|朋友|人|来的|成员|伙伴|学员|小伙伴|进群)")
# a question opener: what follows asks, unless it says something is done
_ASK_OPENER_RE = re.compile(r"请问|想问|问一下|问下|求问|请教|求助|(?<![a-z])(?:question|quick q)(?![a-z])")
_GENERIC_RE = re.compile(
    r"每天|每日|每篇|每周|每次|每晚|每早|每人|即可|就算|才算|才能|必须|需要|缺一不可|可以领|满\s*\d+\s*天|后\s*(?:在群里|发群里|群里)?"
    r"\s*打卡|打卡时|\d\s*\.\s*\S|→|->|例如|明天|下周|本周|这周"
    # permission, requirement and limit words of a rule: 都可以, 就行, 不用, 限时, 不少于, 至少, 哪怕
    r"|都可以|均可|也可以|也行|就行|不用|无需|不需要|不要求|限时|不少于|不超过|至少|以内|哪怕|(?:发|传|交)(?:到|在)?群里"
)
_RULE_STEP_RE = re.compile(r"后\s*(?:在|发)?\s*群里?\s*$")  # "发布后在群里打卡": a step
_RULE_NEAR_RE = re.compile(r"即可|就算|才算|才能|必须|需要|每天|每日|每篇|每周|每次|每晚")
_RULE_AFTER_RE = re.compile(r"\s*(?:时|的时候|满\s*\d|[0-9一二两三四五六七八九十]+\s*天\s*(?:可以|就|才|退|领|送))")
# a make-up for TODAY, made now ("补个今天的卡", "今天的卡补上"): a late check-in, not a 补卡 request
_TODAY_MAKEUP_RE = re.compile(
    r"补(?:个|一下|一个|打一下|打个|打|上)?\s*(?:今天|今日)"
    r"|(?:今天|今日)的[^,.!?;:\n晚明等待会再要想昨]{0,6}?补(?:一下|上|个|打|卡)?(?![不吗得])"
    r"|(?:今天|今日)的(?:打卡|卡)[^.!?;\n晚明等待会再要想昨]{0,10}?补(?:上|好|完)"
)
# what makes a done sentence today's task: a today/time word, a number, a task word, a first person
_DONE_EVIDENCE_RE = re.compile(
    r"今天|今日|今早|今晚|今儿|刚|早上|上午|中午|下午|晚上|[0-9一二两三四五六七八九十半]|作业|章|页|单词|公里|km|分钟|min|字"
    r"|篇|课|组|遍|张|题|道|首|曲|段|集|套|任务|训练|书|笔记|文章|稿|起|醒|我|today|finished|posted|published|submitted|up"
)
_WS_RE = re.compile(r"\s")
_CLOCK_RE = re.compile(r"(?<=\d):(?=\d)")  # 5:33 is a time, not a clause break
# a title or quoted words (《原子习惯》, 「打卡」, "why"): mentioned, not said - blanked before reading moods
_QUOTED_RE = re.compile(r"《[^《》\n]{1,30}》|「[^「」\n]{1,30}」|“[^“”\n]{1,30}”|\"[^\"\n]{1,30}\"|'[^'\n]{1,30}'")
_Q_MARK_RE = re.compile(r"[?吗]")
_WEAK_RE = re.compile(r"(?:day\s*\d+|第\s*[0-9零〇一二两三四五六七八九十百千]+\s*[天篇])$")
