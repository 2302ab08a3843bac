"""The archive SDK's boundary: the two calls of `ArchiveSdk`, WeCom's C library behind them
(`NativeSdk`, through ctypes, loaded only when WECOM_ARCHIVE_SDK_PATH is set), the SDK a process
uses (`get_sdk`; the tests install `wecom_bot.sim.archive.ArchiveSimulator` with `install_sdk`), and
whether the archive is configured at all (`is_configured`).

The C library's stdout. WeCom's SDK is reported to print its own gettoken response (an access
token) to stdout, which a process manager would put into the logs. Every call into the library
(NewSdk, Init, GetChatData, DecryptData, DestroySdk) therefore runs with the process's fd 1 pointed
at /dev/null (`_quiet_stdout`): Python's stdout is flushed first, C's stdio buffers (fflush(NULL))
before fd 1 is restored, so nothing the library buffered comes out later. The redirect is
process-wide, so it is taken under one process-wide lock (two overlapping redirects would restore
each other's /dev/null for good), and it is short: one SDK call. While it lasts, what another thread
writes to fd 1 is discarded too; the service logs to stderr and a worker runs one job at a time, so
only the SDK's own output is lost."""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar, runtime_checkable

from config.settings import Settings, get_settings

T = TypeVar("T")

# the functions of WeWorkFinanceSdk_C.h the binding needs (GetSliceLen is optional: older SDKs lack it)
REQUIRED_SYMBOLS = (
    "NewSdk",
    "Init",
    "GetChatData",
    "DecryptData",
    "NewSlice",
    "FreeSlice",
    "GetContentFromSlice",
    "DestroySdk",
)


class ArchiveSdkError(Exception):
    """The SDK answered with an error code (never carries a secret or message content)."""

    def __init__(self, what: str, code: int | None = None):
        super().__init__(f"{what} failed" + (f" with code {code}" if code is not None else ""))
        self.code = code


class SdkLoadError(ArchiveSdkError):
    """WECOM_ARCHIVE_SDK_PATH does not load as WeCom's archive SDK (not a library for this machine,
    or a library without the SDK's functions). The text says which and names the variable."""

    def __init__(self, text: str):
        Exception.__init__(self, text)
        self.code = None


@runtime_checkable
class ArchiveSdk(Protocol):
    def get_chat_data(self, seq: int, limit: int) -> dict:
        """The SDK's JSON: {"errcode": 0, "chatdata": [{"seq", "msgid", "publickey_ver",
        "encrypt_random_key", "encrypt_chat_msg"}, ...]}, the records after `seq`."""

    def decrypt_data(self, random_key: str, encrypt_chat_msg: str) -> str:
        """The message's JSON, given the random key already decrypted with the RSA private key."""


# --- the C library's stdout ------------------------------------------------------------------------

_stdout_lock = threading.Lock()  # process-wide: fd 1 is redirected by one SDK call at a time
_libc: ctypes.CDLL | None = None


def _flush_c_stdio() -> None:
    """fflush(NULL): whatever C's stdio buffered goes out now, to the fd 1 of this moment."""
    global _libc
    try:
        if _libc is None:
            libc = ctypes.CDLL(None)
            libc.fflush.argtypes, libc.fflush.restype = [ctypes.c_void_p], ctypes.c_int
            _libc = libc
        _libc.fflush(None)
    except (OSError, AttributeError):  # no C library to flush (not Linux/glibc): nothing buffered by us
        pass


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Point fd 1 at /dev/null while the block (one SDK call) runs; see the module docstring."""
    with _stdout_lock:
        try:
            sys.stdout.flush()  # Python's own pending output still goes where it belongs
        except (AttributeError, OSError, ValueError):
            pass
        try:
            saved = os.dup(1)
        except OSError:  # no fd 1 at all: nothing can reach the logs through it
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            yield
        finally:
            _flush_c_stdio()  # into /dev/null, not into the restored stdout later
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)


def _quiet(fn: Callable[[], T]) -> T:
    with _quiet_stdout():
        return fn()


# --- the native SDK --------------------------------------------------------------------------------


class NativeSdk:
    """WeCom's C SDK (libWeWorkFinanceSdk_C.so) through ctypes, following WeWorkFinanceSdk_C.h:

        WeWorkFinanceSdk_t* NewSdk();
        int  Init(WeWorkFinanceSdk_t* sdk, const char* corpid, const char* secret);
        int  GetChatData(WeWorkFinanceSdk_t* sdk, unsigned long long seq, unsigned int limit,
                         const char* proxy, const char* passwd, int timeout, Slice_t* chatDatas);
        int  DecryptData(const char* encrypt_key, const char* encrypt_msg, Slice_t* msg);
        Slice_t* NewSlice();  char* GetContentFromSlice(Slice_t*);  int GetSliceLen(Slice_t*);
        void FreeSlice(Slice_t*);  void DestroySdk(WeWorkFinanceSdk_t*);

    Each call runs with the library's stdout kept out of the logs (`_quiet_stdout`). `close()`
    destroys the handle (DestroySdk) once no call is running; a closed handle refuses further calls.
    The tests run it against a stand-in library compiled from C when a C compiler is present (the
    real library is not redistributable); keep it this small."""

    def __init__(
        self, path: str, corp_id: str, secret: str, proxy: str = "", proxy_password: str = "", timeout: int = 10
    ):
        lib = load_library(path)
        self._lib, self._lock = lib, threading.Lock()
        self._proxy, self._passwd, self._timeout = proxy.encode(), proxy_password.encode(), int(timeout)
        self._sdk = _quiet(lib.NewSdk)
        code = _quiet(lambda: lib.Init(self._sdk, corp_id.encode(), secret.encode()))
        if code != 0:
            _quiet(lambda: lib.DestroySdk(self._sdk))
            self._sdk = None
            raise ArchiveSdkError("Init", code)

    def _call(self, what: str, fn: Callable[[int], int]) -> str:
        lib = self._lib
        out = lib.NewSlice()
        try:
            code = _quiet(lambda: fn(out))
            if code != 0:
                raise ArchiveSdkError(what, code)
            ptr = lib.GetContentFromSlice(out)
            if not ptr:
                return ""
            size = lib.GetSliceLen(out) if hasattr(lib, "GetSliceLen") else -1
            raw = ctypes.string_at(ptr, size) if size >= 0 else ctypes.string_at(ptr)
            return raw.decode("utf-8", errors="replace")
        finally:
            lib.FreeSlice(out)

    def get_chat_data(self, seq: int, limit: int) -> dict:
        with self._lock:
            if not self._sdk:
                raise ArchiveSdkError("GetChatData (the SDK handle was closed)")
            text = self._call(
                "GetChatData",
                lambda out: self._lib.GetChatData(
                    self._sdk, int(seq), int(limit), self._proxy, self._passwd, self._timeout, out
                ),
            )
        return json.loads(text)

    def decrypt_data(self, random_key: str, encrypt_chat_msg: str) -> str:
        with self._lock:
            return self._call(
                "DecryptData",
                lambda out: self._lib.DecryptData(random_key.encode("latin-1"), encrypt_chat_msg.encode(), out),
            )

    def close(self) -> None:
        """DestroySdk, after the call that may be running (idempotent)."""
        with self._lock:
            if self._sdk:
                sdk, self._sdk = self._sdk, None
                _quiet(lambda: self._lib.DestroySdk(sdk))


def load_library(path: str) -> ctypes.CDLL:
    """The library at `path`, its C signatures declared; SdkLoadError (a clear text naming
    WECOM_ARCHIVE_SDK_PATH) when it does not load or lacks the SDK's functions."""
    try:
        lib = _quiet(lambda: ctypes.CDLL(path))
    except OSError as exc:
        raise SdkLoadError(
            f"WECOM_ARCHIVE_SDK_PATH={path!r} cannot be loaded ({exc}); it must be WeCom's "
            "libWeWorkFinanceSdk_C.so for this machine (Linux x86_64)"
        ) from None
    missing = [name for name in REQUIRED_SYMBOLS if not hasattr(lib, name)]
    if missing:
        raise SdkLoadError(
            f"WECOM_ARCHIVE_SDK_PATH={path!r} is not WeCom's archive SDK: it lacks {', '.join(missing)} "
            "(use libWeWorkFinanceSdk_C.so from the 会话内容存档 documentation)"
        )
    return _bind(lib)


def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Declare the C signatures of WeWorkFinanceSdk_C.h on the loaded library."""
    vp, cp = ctypes.c_void_p, ctypes.c_char_p
    lib.NewSdk.restype = vp
    lib.Init.argtypes, lib.Init.restype = [vp, cp, cp], ctypes.c_int
    lib.GetChatData.argtypes = [vp, ctypes.c_ulonglong, ctypes.c_uint, cp, cp, ctypes.c_int, vp]
    lib.GetChatData.restype = ctypes.c_int
    lib.DecryptData.argtypes, lib.DecryptData.restype = [cp, cp, vp], ctypes.c_int
    lib.NewSlice.restype = vp
    lib.FreeSlice.argtypes, lib.FreeSlice.restype = [vp], None
    lib.GetContentFromSlice.argtypes, lib.GetContentFromSlice.restype = [vp], vp
    if hasattr(lib, "GetSliceLen"):
        lib.GetSliceLen.argtypes, lib.GetSliceLen.restype = [vp], ctypes.c_int
    lib.DestroySdk.argtypes, lib.DestroySdk.restype = [vp], None
    return lib


def library_problems(settings: Settings) -> list[str]:
    """For `wecom-bot check-config`: WECOM_ARCHIVE_SDK_PATH loads and has the SDK's functions (the
    library is loaded, Init is not called: nothing goes over the network). [] when the archive is
    not configured or the path is already reported as missing."""
    path = settings.archive_sdk_path
    if not (path and settings.archive_secret and settings.archive_private_key) or not os.path.isfile(
        os.path.expanduser(path)
    ):
        return []
    try:
        load_library(os.path.expanduser(path))
    except SdkLoadError as exc:
        return [str(exc)]
    return []


# --- the SDK a process uses --------------------------------------------------------------------------

_installed: ArchiveSdk | None = None
_native: tuple[tuple, NativeSdk] | None = None
_native_lock = threading.Lock()


def install_sdk(sdk: ArchiveSdk | None) -> None:
    """Use this SDK instead of the native one (the tests install the simulator)."""
    global _installed
    _installed = sdk


def get_sdk(settings: Settings) -> ArchiveSdk:
    """The installed SDK, else the native one, loaded once per process and configuration; when the
    configuration changes, the previous handle is destroyed (DestroySdk) once its call is done."""
    global _native
    if _installed is not None:
        return _installed
    ident = (
        settings.archive_sdk_path,
        settings.corp_id,
        settings.archive_secret,
        settings.archive_proxy,
        settings.archive_proxy_password,
        settings.archive_timeout,
    )
    with _native_lock:
        if _native is None or _native[0] != ident:
            old, _native = _native, None
            if old is not None:
                old[1].close()
            _native = (
                ident,
                NativeSdk(
                    os.path.expanduser(settings.archive_sdk_path),
                    settings.corp_id,
                    settings.archive_secret,
                    settings.archive_proxy,
                    settings.archive_proxy_password,
                    settings.archive_timeout,
                ),
            )
        return _native[1]


def close_sdk() -> None:
    """Destroy the native handle this process holds, if any (shutdown, tests)."""
    global _native
    with _native_lock:
        old, _native = _native, None
    if old is not None:
        old[1].close()


def is_configured(settings: Settings | None = None) -> bool:
    s = settings or get_settings()
    if not s.archive_private_key:
        return False
    return _installed is not None or bool(s.archive_sdk_path and s.archive_secret)


def sources_line(settings: Settings) -> str:
    """Which inbound sources are active, for `wecom-bot check-config`."""
    parts = []
    if settings.robot_token and settings.robot_aes_key:
        parts.append("group robot callback")
    if settings.token and settings.aes_key:
        parts.append("app callback")
    if is_configured(settings):
        parts.append("message archive")
    return ", ".join(parts) if parts else "none"
