"""Who may run a command where: the role handlers.command_table gives it, resolved to the group
(or groups) it runs in, or a refusal. workers.commands.execute calls `resolve` once, before the
command's handler, and hands the handler what it returns; no handler checks a role again.

In a group chat the group is the chat's own (naming another one is refused); in private chat it is
the group named by its key as the last word, else the sender's only one, else they are asked which.
"""

from __future__ import annotations

from config.settings import Group
from handlers import command_texts as t
from handlers.command_table import Role
from workers.commands.core import Ctx, Refuse
from workers.register import member_ids


def resolve(ctx: Ctx, role: Role) -> Group | list[Group] | None:
    """What a handler of `role` is given (see handlers.command_table)."""
    if role is Role.LEADER:
        return leader_group(ctx)
    if role is Role.MEMBER:
        return member_group(ctx)
    if role is Role.LEADER_ALL:
        return led_groups(ctx)
    if role is Role.MEMBER_ALL:
        return own_groups(ctx)
    return None


def _named(ctx: Ctx, key: str) -> Group:
    group = ctx.settings.group(key)
    if group is None:  # keys come from settings.groups: only a programming error lands here
        raise Refuse(t.unknown_group(key))
    return group


def leader_group(ctx: Ctx) -> Group:
    if ctx.chat_group is not None:
        if ctx.key and ctx.key != ctx.chat_group.key:
            raise Refuse(t.only_this_group())
        if not ctx.leads(ctx.chat_group):
            raise Refuse(t.not_leader(ctx.word))
        return ctx.chat_group
    led = ctx.settings.groups_led_by(ctx.uid)
    if ctx.key:
        group = _named(ctx, ctx.key)
        if not ctx.leads(group):
            raise Refuse(t.not_leader_of(group.display) if led else t.not_leader(ctx.word))
        return group
    if not led:
        raise Refuse(t.not_leader(ctx.word))
    if len(led) == 1:
        return led[0]
    raise Refuse(t.pick_group(ctx.word, [(g.key, g.display) for g in led]))


def member_group(ctx: Ctx) -> Group:
    if ctx.chat_group is not None:
        if ctx.key and ctx.key != ctx.chat_group.key:
            raise Refuse(t.only_this_group())
        return ctx.chat_group
    mine = ctx.member_groups()
    if ctx.key:
        group = _named(ctx, ctx.key)
        if group.key not in {g.key for g in mine}:
            raise Refuse(t.not_member_of(group.display))
        return group
    if not mine:
        raise Refuse(t.no_group_member())
    if len(mine) == 1:
        return mine[0]
    raise Refuse(t.pick_group(ctx.word, [(g.key, g.display) for g in mine]))


def led_groups(ctx: Ctx) -> list[Group]:
    """The chat's or the named group (as leader_group), else every group the sender leads."""
    if ctx.chat_group is not None or ctx.key:
        return [leader_group(ctx)]
    return ctx.settings.groups_led_by(ctx.uid)


def own_groups(ctx: Ctx) -> list[Group]:
    """The chat's group when the sender is on its roster (no refusal: the handler answers an empty
    list), the named one (as member_group), else every group they belong to."""
    if ctx.chat_group is not None:
        return [ctx.chat_group] if ctx.uid in member_ids(ctx.r, ctx.chat_group) else []
    if ctx.key:
        return [member_group(ctx)]
    return ctx.member_groups()
