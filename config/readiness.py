"""What a valid configuration still lacks for a working camp, each gap with its next step.

A configuration can be valid (no wrong variable: `Settings.problems` is empty) and still run a camp
of nobody: `cp .env.example .env` unfilled gives no group, the simulator instead of WeCom, and no
administrator to hear about an unknown group chat. `gaps()` says so, in the words `wecom-bot
check-config` and `wecom-bot run` print as warnings (they do not change the exit code, which stays 1
for wrong variables only: a camp may be set up one step at a time); `advice()` what it runs without.
"""

from __future__ import annotations

from config.model import Settings

EXAMPLE_GROUP = (
    "BOT_GROUPS=xhs01\n"
    "GROUP_XHS01_NAME=小红书写作营·1组\n"
    "GROUP_XHS01_CHAT_ID=wrXXXXXXXXXXXXXXXX\n"
    "GROUP_XHS01_LEADERS=tingting\n"
    "GROUP_XHS01_MEMBERS=xiaolu:小鹿,aqing:阿青"
)


def gaps(s: Settings, sources: str) -> list[str]:
    """The missing pieces of a working camp, most basic first; `sources` is check-config's line of the
    inbound sources ("none" when nothing can reach the bot)."""
    out = []
    if not s.groups:
        example = "\n".join("    " + line for line in EXAMPLE_GROUP.splitlines())
        out.append(
            "no camp group configured (BOT_GROUPS is empty): the bot has nobody to count. Add the group to .env,"
            f" for example:\n{example}\n"
            "  The ChatId: @ the robot once in the group and the bot sends it to BOT_ADMINS. To try the bot"
            " without WeCom, `scripts/run` with no .env runs a demo group (config/demo.env)."
        )
    if s.simulated:
        out.append(
            "no WeCom app (WECOM_CORP_ID, WECOM_AGENT_ID, WECOM_SECRET are empty): everything goes to the built-in"
            " simulator, nobody in WeCom sees it. Set the three from 应用管理 → 自建 (README, Connecting a real WeCom)."
        )
    elif sources == "none":
        out.append(
            "nothing can reach the bot: set the group robots' callback (WECOM_ROBOT_TOKEN,"
            " WECOM_ROBOT_ENCODING_AES_KEY), the 智能机器人's (WECOM_AIBOT_TOKEN, WECOM_AIBOT_ENCODING_AES_KEY)"
            " or the app's (WECOM_TOKEN, WECOM_ENCODING_AES_KEY)."
        )
    return out


def advice(s: Settings) -> list[str]:
    """Settings a camp runs without, but better with."""
    if s.admins:
        return []
    return [
        "BOT_ADMINS is empty: nobody hears about a group chat the bot does not know (its ChatId) or gets"
        " the camp-wide overview. For example: BOT_ADMINS=your_userid"
    ]
