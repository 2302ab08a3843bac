"""The message archive (会话内容存档): the third inbound source, feeding the same inbox.

WeCom's archive sees every post in every conversation of the company. Its native SDK hands out
records in order of a sequence number: `GetChatData(seq, limit)` returns the records after `seq`,
each with the message encrypted under a random key, and the random key encrypted with the
company's RSA public key. One module per part:

- sdk.py: the SDK boundary (`ArchiveSdk`, `NativeSdk` through ctypes, `install_sdk`, `get_sdk`) and
  whether the archive is configured (`is_configured`, `sources_line`);
- crypto.py: opening a record (`open_record`: RSA for the random key, the SDK for the message);
- posts.py: what a decrypted message says and the inbox event it becomes (no I/O);
- puller.py: `Puller.pull()`, the cursor, the lock, parked records (`parked`, `retry_parked`), the
  room ids seen (`rooms`);
- recalls.py: a recalled post un-counts the check-ins it made that day (`recall`, `unrecord`);
- triggers.py: the pull job and who queues it (`pull_job`, `schedule_pull`, `wake`, `wake_job`).

Its Redis keys and their TTLs are in workers/keys.py (`wb:archive:*`). The names below are the
package's public face: callers and RQ job names (`workers.archive.pull_job`,
`workers.archive.wake_job`) use them from here.
"""

from workers.archive.crypto import RecordError, load_private_keys, open_record
from workers.archive.puller import Puller, RetryReport, parked, pull, retry_parked, retry_parked_report, rooms
from workers.archive.recalls import recall, unrecord
from workers.archive.sdk import (
    ArchiveSdk,
    ArchiveSdkError,
    NativeSdk,
    SdkLoadError,
    close_sdk,
    get_sdk,
    install_sdk,
    is_configured,
    library_problems,
    sources_line,
)
from workers.archive.triggers import pull_if_configured, pull_job, schedule_pull, wake, wake_job

__all__ = [
    "ArchiveSdk",
    "ArchiveSdkError",
    "NativeSdk",
    "Puller",
    "RecordError",
    "RetryReport",
    "SdkLoadError",
    "close_sdk",
    "get_sdk",
    "install_sdk",
    "is_configured",
    "library_problems",
    "load_private_keys",
    "open_record",
    "parked",
    "pull",
    "pull_if_configured",
    "pull_job",
    "recall",
    "retry_parked",
    "retry_parked_report",
    "rooms",
    "schedule_pull",
    "sources_line",
    "unrecord",
    "wake",
    "wake_job",
]
