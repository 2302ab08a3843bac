"""The archive SDK's boundary: the two calls of `ArchiveSdk`, WeCom's C library behind them
(`NativeSdk`, through ctypes, loaded only when WECOM_ARCHIVE_SDK_PATH is set), the SDK a process
uses (`get_sdk`; the tests install `wecom_bot.sim.archive.ArchiveSimulator` with `install_sdk`), and
whether the archive is configured at all (`is_configured`)."""

from __future__ import annotations

import ctypes
import json
import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from config.settings import Settings, get_settings


class ArchiveSdkError(Exception):
    """The SDK answered with an error code (never carries a secret or message content)."""

    def __init__(self, what: str, code: int | None = None):
        super().__init__(f"{what} failed" + (f" with code {code}" if code is not None else ""))
        self.code = code


@runtime_checkable
class ArchiveSdk(Protocol):
    def get_chat_data(self, seq: int, limit: int) -> dict:
        """The SDK's JSON: {"errcode": 0, "chatdata": [{"seq", "msgid", "publickey_ver",
        "encrypt_random_key", "encrypt_chat_msg"}, ...]}, the records after `seq`."""

    def decrypt_data(self, random_key: str, encrypt_chat_msg: str) -> str:
        """The message's JSON, given the random key already decrypted with the RSA private key."""


class NativeSdk:
    """WeCom's C SDK (libWeWorkFinanceSdk_C.so) through ctypes, following WeWorkFinanceSdk_C.h:

        WeWorkFinanceSdk_t* NewSdk();
        int  Init(WeWorkFinanceSdk_t* sdk, const char* corpid, const char* secret);
        int  GetChatData(WeWorkFinanceSdk_t* sdk, unsigned long long seq, unsigned int limit,
                         const char* proxy, const char* passwd, int timeout, Slice_t* chatDatas);
        int  DecryptData(const char* encrypt_key, const char* encrypt_msg, Slice_t* msg);
        Slice_t* NewSlice();  char* GetContentFromSlice(Slice_t*);  int GetSliceLen(Slice_t*);
        void FreeSlice(Slice_t*);  void DestroySdk(WeWorkFinanceSdk_t*);

    The tests run it against a stand-in library compiled from C when a C compiler is present (the
    real library is not redistributable); keep it this small."""

    def __init__(
        self, path: str, corp_id: str, secret: str, proxy: str = "", proxy_password: str = "", timeout: int = 10
    ):
        lib = _bind(ctypes.CDLL(path))
        self._lib, self._lock = lib, threading.Lock()
        self._proxy, self._passwd, self._timeout = proxy.encode(), proxy_password.encode(), int(timeout)
        self._sdk = lib.NewSdk()
        code = lib.Init(self._sdk, corp_id.encode(), secret.encode())
        if code != 0:
            lib.DestroySdk(self._sdk)
            self._sdk = None
            raise ArchiveSdkError("Init", code)

    def _call(self, what: str, fn: Callable[[int], int]) -> str:
        lib = self._lib
        out = lib.NewSlice()
        try:
            code = fn(out)
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
        if self._sdk:
            self._lib.DestroySdk(self._sdk)
            self._sdk = None


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


_installed: ArchiveSdk | None = None
_native: tuple[tuple, NativeSdk] | None = None
_native_lock = threading.Lock()


def install_sdk(sdk: ArchiveSdk | None) -> None:
    """Use this SDK instead of the native one (the tests install the simulator)."""
    global _installed
    _installed = sdk


def get_sdk(settings: Settings) -> ArchiveSdk:
    """The installed SDK, else the native one, loaded once per process and configuration."""
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
            _native = (
                ident,
                NativeSdk(
                    settings.archive_sdk_path,
                    settings.corp_id,
                    settings.archive_secret,
                    settings.archive_proxy,
                    settings.archive_proxy_password,
                    settings.archive_timeout,
                ),
            )
        return _native[1]


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
