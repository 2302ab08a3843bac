"""Is this post a check-in? Pure functions, no I/O.

detect() looks at one inbound message and answers with a Detection:
- "checkin": the sender checked in (keyword post, done sentence, note link, image post);
- "chain":   a 接龙 chain (see handlers.chain), with the credits it earns (possibly none);
- "none":    anything else - questions, negations, postponements, 补卡 requests, reminders to others,
             rules, someone else's act, acknowledgements, chit-chat, emoji. A "none" may carry
             unsure=True: the evidence for a check-in is real but its day or object is unclear, and the
             caller may ask the member (这条算今天的打卡吗？).

The rules read the sentence - who acts, in which mood, on which day - with word CLASSES (all pronouns,
all time words, all modal verbs, all completion complements ...) rather than phrases. All linear time:
no regular expression can backtrack badly (repetitions are bounded or over a class that cannot overlap
what follows), and a keyword loop never rescans its clause.
1. Own words: text after a quote separator (``- - - -``) is someone else's message and is dropped -
   unless what stands before the separator is itself a quoted message (「阿杰：...」), then the reply
   after it is the sender's. Leading and trailing @mentions are stripped; URLs become line breaks.
2. Normalising: NFKC, casefold, traditional to simplified, Cantonese function words to Mandarin (咗 了,
   冇 没, 唔 不, 聽日 明天, 尋日 昨天, 而家 现在, 搞掂 搞定 ...), misspelt and same-sound forms of 打卡 (打咔
   打qia da卡 dk 哒卡 达卡, 大卡 unless a calorie count); a capitalised Latin given name before a subject's
   verb ("Lily 今天...") is marked as a name; "5:33" is a time; titles and quoted words (《...》 「...」
   "...") are blanked: mentioned, not said.
3. Clauses: cut at punctuation, line breaks and contrast words; an alternative question is a question
   in all its pieces.
4. Evidence: check-in keywords (打卡, 已更, 签到, ✅, checked in, day 5 ...) and "done" sentences: a practice
   verb (the whole class: read, write, draw, run, sing, play, code, meditate, eat ...) with a completion
   complement (V完 V好 V出来了 V通了 V过了 交上去), a today/time word and V了, getting up or going to bed
   at a clock time (5:40就起了, 10点就上床了; "6:30前起床" with no 了 is a deadline), in-time words with
   success (卡点成功), English done words. A keyword is not the act when used as a noun (打卡规则, 打卡法,
   打卡是..., 打卡的记录), in a subordinate "after" clause (完成后...), or inside quotes.
   Each occurrence is read in its sentence:
   - mood: a question (wh-words, 吗, a trailing 未, a question opener 想问一下 before an unmarked
     keyword), a reminder to others (大家/记得/...; not when the sender turns to themself or hurries
     themself: 赶在12点前, ddl前, 差点), a negation (没/还没/忘 ... before, or right after it), another day
     (昨天, 上周, 三个月前, 上一期; a comparison 比昨天早 is about today; a bare weekday or date with a
     done marker is unsure), later (明天, 晚点, a modal: 要/想/会, an epistemic 能/估计/可能 unless marked
     done), a habit (一般/平时/通常: not today's report), a plan or condition (如果, 再, a step after another
     act with a connector: 读完就来打卡, 跑完回来打卡 - unless that act is behind us: 刚吃完就来打卡 - or
     a done sentence followed by a later act: 画完了到酒店再发);
   - who: for someone else (帮小王打卡, 给老婆打卡 - not 代码, nor 给 before another verb: 给儿子读完了),
     or someone else as the subject: the nearest person mention
     before the act - a pronoun (not the 他 of 吉他), a relation, a role (组长, 学委, 教练), a name (小雨,
     阿杰, 王姐, @阿花, Lily), a number of people (8个人) - rather than 我; when the clause names nobody,
     the subject named last in the sentence (or the previous clause) carries over; praise (恭喜, 膜拜,
     yyds) with no 我 scopes over what precedes it and its own line;
   - what: a task description or rule - a header line (本周任务：, 今日画题：, Day 5 task:, 是这样的：) or
     words to newcomers (新同学, 新朋友) with generic wording (每天, 每人, 即可, 就行, 都可以, 不用, 限时,
     发群里, →), or a rule's phrasing near the keyword (就算打卡, 才能打卡, 发布后在群里打卡, 满21天).
   A "today" word (今天/今日/现在/刚刚) between a time or negation word and the keyword lifts it.
5. A clause with a check-in keyword and nothing against any of its keywords makes the post a check-in.
   A day count alone (第21天) and a done sentence are weaker: a reminder, rule, plan, negation or
   someone else's act anywhere in the post outweighs them. A done sentence with no sign of what or when
   (a bare 看完了) is unsure, and so is a check-in said for a bare weekday (周六打卡✅); the learned
   scorer settles such a post only when it is at least 19 in 20 sure either way (练完了 腿已经不是自己的了),
   else the member is asked.
6. A make-up for today made now (补个今天的卡, 今天的卡差点忘了，补上) is a late check-in unless an
   other-day word stands on its line; other 补卡 are not.
7. A note link makes a check-in unless the text negates, postpones, reminds, asks for 补卡, or - when
   no check-in keyword of the sender's own decides - says the link is not the sender's own new work of
   today: whose (朋友/她的/小林的, 帮朋友求个赞, X的这篇 not preceded by 我/今天/刚/新), what for (示例, 范文,
   科普, 合集, 刷到, 拉票, an appraisal: 整理得很好), or when (上个月, 三个月前, 上一期, 第一天写的 - an
   old-time word counts only in the same sentence as the sender's own 今天写的/刚发的); a mere share
   (分享/干货/大家看看) with the sender's own today (今天分享的...) is still theirs. An image is a
   check-in; a "mixed" post is taken to carry an image and is one unless its text says otherwise.

The package: `normalize` (step 2), `links` (note links), `lexicon` and `subject` (the word classes of
steps 3-4), `clause` (one clause, step 4), `sentence` (a post, steps 5-6), `ownlink` (step 7),
`chains` (接龙), `scorer` (the learned second opinion) and `entry` (detect(), the entry point).
"""

from __future__ import annotations

from ..chain import strip_mentions
from .entry import detect
from .links import _trim_url, find_note_links, note_link_hosts
from .model import DEFAULT_LINK_HOSTS, Credit, Detection

__all__ = [
    "Credit",
    "Detection",
    "detect",
    "strip_mentions",
    "find_note_links",
    "note_link_hosts",
    "DEFAULT_LINK_HOSTS",
    "_trim_url",
]
