"""The command line as an operator runs it: a process whose reader may go away (`wecom-bot stats G | head`)."""

from __future__ import annotations

import subprocess

from reliability_report import clean_environ, wecom_bot


def cli_env(redis_url: str, tmp_path, members: int) -> dict[str, str]:
    """One group `big` of `members` members, its register in the test's Redis."""
    env = clean_environ()
    env.update(
        {
            "REDIS_URL": redis_url,
            "BOT_ENV_FILE": "/nonexistent/.env",
            "BOT_TIMEZONE": "Asia/Shanghai",
            "BOT_DATA_DIR": str(tmp_path / "var"),
            "BOT_GROUPS": "big",
            "GROUP_BIG_CHAT_ID": "wrbig",
            "GROUP_BIG_LEADERS": "lead",
            "GROUP_BIG_MEMBERS": ",".join(f"m{i:04d}" for i in range(members)),
        }
    )
    return env


def test_a_reader_that_goes_away_ends_the_command_quietly(redis_server, tmp_path):
    # 2,000 members: some 100 KB, more than a pipe and Python's output buffer hold
    stats = wecom_bot("stats", "big", "--date", "2026-11-16")
    proc = subprocess.Popen(
        stats,
        env=cli_env(redis_server.url, tmp_path, 2000),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()  # like `head -1`: one line, then the pipe is closed
    proc.stdout.close()
    err = proc.stderr.read().decode("utf-8", "replace")
    code = proc.wait(60)
    assert first.decode().startswith("big（big） 2026-11-16"), first
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code == 141, (code, err)  # 128 + SIGPIPE, as `cat` and the shell report it


def test_a_reader_that_reads_everything_gets_it_all_and_0(redis_server, tmp_path):
    res = subprocess.run(
        wecom_bot("stats", "big", "--date", "2026-11-16"),
        env=cli_env(redis_server.url, tmp_path, 2),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert len(res.stdout.splitlines()) == 4  # title, header, two members
