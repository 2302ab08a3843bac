"""The processing benchmark's baseline job: RQ's own cost per job, with nothing to do."""


def noop() -> None:
    return None
