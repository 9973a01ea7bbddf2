"""The two regex dialects fdm is built with: PCRE2 (fdm 2.x, Alpine) and POSIX ERE (Debian's fdm 1.9).

PCRE2 is modelled with Python `re` on bytes (no UTF mode, like fdm's build). POSIX is the C library's
own `regcomp`/`regexec` through ctypes, with fdm's flags (REG_EXTENDED | REG_NEWLINE, REG_ICASE unless
`case`), so the 1.9 dialect is the real thing rather than a translation.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import warnings
from dataclasses import dataclass

try:
    from re import _parser as sre_parse  # type: ignore[attr-defined]  # Python 3.11+
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse

PCRE2 = "pcre2"
POSIX = "posix"
DIALECTS = (PCRE2, POSIX)
NPMATCH = 10


class RegexError(Exception):
    """A regex the dialect refuses; fdm refuses the whole file at parse time."""


@dataclass
class Match:
    """Capture spans (start, end) for %0..%9, stopping at the first empty or unset group like fdm."""

    spans: list[tuple[int, int]]


_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\n\r\f\v",
    "blank": r" \t",
    "xdigit": "0-9A-Fa-f",
    "word": r"\w",
    "punct": r"!-/:-@\[-`{-~",
    "cntrl": r"\x00-\x1f\x7f",
    "print": r"\x20-\x7e",
    "graph": r"\x21-\x7e",
}
_PCRE_ONLY = re.compile(r"\\\\|\[:(\w+):\]|\(\?<(?=[A-Za-z_])|\\z|\\Z|\\h")


def pcre_to_python(pattern: str) -> str:
    """Spell the PCRE2 features Python's `re` lacks in its own terms ([:digit:], (?<n>, \\z, \\h)."""

    def swap(found: re.Match[str]) -> str:
        text = found.group()
        if text == "\\\\":
            return text
        if found.group(1):
            return _POSIX_CLASSES.get(found.group(1), text)
        return {"(?<": "(?P<", "\\z": "\\Z", "\\Z": "(?=\\n?\\Z)", "\\h": "[ \\t]"}[text]

    return _PCRE_ONLY.sub(swap, pattern)


# PCRE2's multiline `^` matches after a newline only when more text follows: after a message's final
# newline there is no empty line to match (Python's `^` would match there). Only a match that reaches
# the end of the area can differ, so that spelling is tried only then (it is slower).
_PCRE_CIRCUMFLEX = r"(?:^(?!\Z)|\A)"


def _circumflex(pattern: str) -> str:
    """Every `^` outside a character class spelled as PCRE2 means it (escapes and classes kept)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif ch == "[":
            end = i + 1
            if end < n and pattern[end] == "^":
                end += 1
            if end < n and pattern[end] == "]":
                end += 1
            while end < n and pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            out.append(pattern[i : end + 1])
            i = end + 1
        elif ch == "^":
            out.append(_PCRE_CIRCUMFLEX)
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def required_literal(pattern: bytes, flags: int) -> bytes:
    """The longest run of plain characters every match must contain (b"" when unsure).

    Only top-level literals count: they are outside any group, alternation or repetition.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            parsed = sre_parse.parse(pattern, flags)
    except Exception:  # noqa: BLE001 - any doubt means no shortcut
        return b""
    best = b""
    run = bytearray()
    for op, value in parsed:
        if op is sre_parse.LITERAL:
            run.append(value)
            continue
        best = max(best, bytes(run), key=len)
        run.clear()
    return max(best, bytes(run), key=len)


class PcreRegex:
    """A PCRE2-like regex: Python `re` on bytes, MULTILINE, IGNORECASE unless case-sensitive.

    A literal every match needs is looked for first (in the lowered text when case-insensitive):
    most rules in a long config are rejected by that one `find`.
    """

    def __init__(self, pattern: str, case: bool, prefilter: bool = True) -> None:
        flags = re.MULTILINE | (0 if case else re.IGNORECASE)
        python = pcre_to_python(pattern)
        source = python.encode("utf-8", "surrogateescape")
        exact = _circumflex(python)
        try:
            with warnings.catch_warnings():
                # Python warns about `[[` (a possible future set syntax); PCRE2 has no such thing.
                warnings.simplefilter("ignore", FutureWarning)
                self._re = re.compile(source, flags)
                self._exact = (
                    None
                    if exact == python
                    else re.compile(exact.encode("utf-8", "surrogateescape"), flags)
                )
        except re.error as exc:
            raise RegexError(str(exc)) from None
        self.empty = pattern == ""
        self.case = case
        literal = required_literal(source, flags) if prefilter else b""
        self.literal = literal if case else literal.lower()
        if len(self.literal) < 3:
            self.literal = b""
        self.wants_lowered = bool(self.literal) and not case

    def search(
        self, data: bytes, start: int, end: int, lowered: bytes | None = None
    ) -> Match | None:
        """Search data[start:end]; `^` matches at `start` (fdm passes the area as a block).

        `lowered` is data.lower(), given by callers that search the same data many times.
        """
        if self.empty:
            return Match([]) if start == end else None
        if start == end:
            # An empty area is a whole (empty) subject to PCRE2: `^` and `$` both match in it.
            data, start, end, lowered = b"", 0, 0, None
        if self.literal:
            haystack = data if self.case else (lowered if lowered is not None else data.lower())
            if haystack.find(self.literal, start, end) == -1:
                return None
        # Areas start at 0 or just after a newline, so `^` behaves as at the start of a block.
        found = self._re.search(data, start, end)
        if found is not None and self._exact is not None and found.end() == end:
            found = self._exact.search(data, start, end)
        if found is None:
            return None
        spans: list[tuple[int, int]] = []
        for group in range(min(NPMATCH, (self._re.groups or 0) + 1)):
            so, eo = found.span(group)
            if so < 0 or eo <= so:
                break
            spans.append((so, eo))
        return Match(spans)


class _RegMatch(ctypes.Structure):
    _fields_ = [("rm_so", ctypes.c_int), ("rm_eo", ctypes.c_int)]


_libc: ctypes.CDLL | None = None
_c_locale: int | None = None
REG_EXTENDED, REG_ICASE, REG_NEWLINE = 1, 2, 4
REG_STARTEND = 4
LC_CTYPE_AND_COLLATE_MASK = (1 << 0) | (1 << 3)  # glibc's LC_CTYPE_MASK | LC_COLLATE_MASK


def _load_libc() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        _libc.regcomp.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        _libc.regexec.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.POINTER(_RegMatch),
            ctypes.c_int,
        ]
        _libc.regerror.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        _libc.regfree.argtypes = [ctypes.c_void_p]
        _libc.newlocale.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p]
        _libc.newlocale.restype = ctypes.c_void_p
        _libc.uselocale.argtypes = [ctypes.c_void_p]
        _libc.uselocale.restype = ctypes.c_void_p
    return _libc


class _InCLocale:
    """Run regcomp/regexec in the C locale, as fdm 1.9 (which never calls setlocale) does: Python
    sets the process's LC_CTYPE from the environment, and in UTF-8 `.` would refuse 8-bit bytes.
    uselocale is per thread, so other threads are not affected."""

    def __init__(self, libc: ctypes.CDLL) -> None:
        global _c_locale
        self.libc = libc
        if _c_locale is None:
            _c_locale = libc.newlocale(LC_CTYPE_AND_COLLATE_MASK, b"C", None)
        self.previous: int | None = None

    def __enter__(self) -> None:
        self.previous = self.libc.uselocale(_c_locale)

    def __exit__(self, *exc: object) -> None:
        self.libc.uselocale(self.previous)


class PosixRegex:
    """A POSIX extended regex compiled by the C library, with fdm 1.9's flags."""

    def __init__(self, pattern: str, case: bool) -> None:
        self.libc = _load_libc()
        self.empty = pattern == ""
        self.wants_lowered = False
        self._buf = ctypes.create_string_buffer(
            256
        )  # regex_t (64 bytes on glibc x86-64), with room
        self._compiled = False
        if self.empty:
            return
        flags = REG_EXTENDED | REG_NEWLINE | (0 if case else REG_ICASE)
        with _InCLocale(self.libc):
            error = self.libc.regcomp(self._buf, pattern.encode("utf-8", "surrogateescape"), flags)
        if error != 0:
            message = ctypes.create_string_buffer(256)
            self.libc.regerror(error, self._buf, message, 256)
            raise RegexError(message.value.decode("utf-8", "replace"))
        self._compiled = True

    def __del__(self) -> None:
        if getattr(self, "_compiled", False):
            self.libc.regfree(self._buf)

    def search(
        self, data: bytes, start: int, end: int, lowered: bytes | None = None
    ) -> Match | None:
        """regexec with REG_STARTEND over data[start:end], as fdm 1.9 does."""
        if self.empty:
            return Match([]) if start == end else None
        pmatch = (_RegMatch * NPMATCH)()
        pmatch[0].rm_so = start
        pmatch[0].rm_eo = end
        with _InCLocale(self.libc):
            found = self.libc.regexec(self._buf, data, NPMATCH, pmatch, REG_STARTEND)
        if found != 0:
            return None
        spans: list[tuple[int, int]] = []
        for item in pmatch:
            if item.rm_eo <= item.rm_so:
                break
            spans.append((item.rm_so, item.rm_eo))
        return Match(spans)


def compile_regex(pattern: str, case: bool, dialect: str = PCRE2) -> PcreRegex | PosixRegex:
    """Compile for the dialect; raise RegexError with the library's reason."""
    if dialect == POSIX:
        return PosixRegex(pattern, case)
    return PcreRegex(pattern, case)
