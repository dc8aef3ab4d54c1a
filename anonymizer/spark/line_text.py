"""The text of input lines in the Python workers, as the JVM would have decoded it.

The reader hands lines over with their bytes unchanged (``read_lines(..., decoded=False)``): Spark keeps a text
line's bytes as they are in the file, and only a conversion to a Java string (what ``regexp_replace`` did to every
line) replaces invalid UTF-8 with U+FFFD. Such a line reaches Python as a string column whose bytes are not UTF-8,
which pyarrow cannot turn into ``str``; :func:`line_texts` then decodes those lines exactly as the JVM's
``new String(bytes, UTF_8)`` (JDK 17) does, so every later check, quarantine row and hash sees the same text as
before (the line is quarantined as ``invalid_utf8``, its raw text with the same replacement characters).
"""

from __future__ import annotations

import pyarrow as pa

_REPLACEMENT = "\ufffd"


def line_texts(column: pa.Array) -> list[str | None]:
    """The lines of a string column as ``str`` (None for null), invalid UTF-8 decoded as the JVM decodes it."""
    try:
        return column.to_pylist()
    except UnicodeDecodeError:
        binary = pa.large_binary() if pa.types.is_large_string(column.type) else pa.binary()
        raw = column.view(binary).to_pylist()  # the same buffers, read as bytes
        return [None if b is None else java_utf8_text(b) for b in raw]


def java_utf8_text(data: bytes) -> str:
    """``data`` decoded as UTF-8 by the JVM (``new String(data, StandardCharsets.UTF_8)``, JDK 17): each
    malformed sequence becomes one U+FFFD, where a malformed sequence ends as the JDK decides (it differs from
    Python's ``errors="replace"`` for encoded surrogates, ``ED A0..BF ..``, which the JDK replaces as one)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_replacing(data)


def _cont(b: int) -> bool:
    return (b & 0xC0) == 0x80


def _malformed3(src: bytes, sp: int) -> int:
    """Bytes the JDK skips for a malformed 3-byte sequence starting at ``sp``."""
    b1, b2 = src[sp], src[sp + 1]
    return 1 if (b1 == 0xE0 and (b2 & 0xE0) == 0x80) or not _cont(b2) else 2


def _bad_4_2(b1: int, b2: int) -> bool:
    """A 4-byte lead ``b1`` cannot be followed by ``b2`` (overlong, beyond U+10FFFF, or not a continuation)."""
    return (b1 == 0xF0 and not 0x90 <= b2 <= 0xBF) or (b1 == 0xF4 and (b2 & 0xF0) != 0x80) or not _cont(b2)


def _malformed4(src: bytes, sp: int) -> int:
    """Bytes the JDK skips for a malformed 4-byte sequence starting at ``sp``."""
    b1, b2 = src[sp], src[sp + 1]
    if b1 > 0xF4 or _bad_4_2(b1, b2):
        return 1
    return 2 if not _cont(src[sp + 2]) else 3


def _decode_replacing(src: bytes) -> str:  # noqa: C901, PLR0912 - one branch per UTF-8 sequence length
    """The JDK 17 UTF-8 decoder (``String.decodeUTF8_UTF16`` with replacement), byte for byte."""
    out: list[str] = []
    sp, sl = 0, len(src)
    while sp < sl:
        b1 = src[sp]
        sp += 1
        if b1 < 0x80:
            out.append(chr(b1))
        elif 0xC2 <= b1 <= 0xDF:
            if sp < sl:
                b2 = src[sp]
                if _cont(b2):
                    sp += 1
                    out.append(chr(((b1 & 0x1F) << 6) | (b2 & 0x3F)))
                else:
                    out.append(_REPLACEMENT)
                continue
            out.append(_REPLACEMENT)
            break
        elif 0xE0 <= b1 <= 0xEF:
            if sp + 1 < sl:
                b2, b3 = src[sp], src[sp + 1]
                if (b1 == 0xE0 and (b2 & 0xE0) == 0x80) or not _cont(b2) or not _cont(b3):
                    out.append(_REPLACEMENT)
                    sp += _malformed3(src, sp - 1) - 1
                else:
                    c = ((b1 & 0x0F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)
                    out.append(_REPLACEMENT if 0xD800 <= c <= 0xDFFF else chr(c))  # a surrogate: one U+FFFD
                    sp += 2
                continue
            if sp < sl and ((b1 == 0xE0 and (src[sp] & 0xE0) == 0x80) or not _cont(src[sp])):
                out.append(_REPLACEMENT)
                continue
            out.append(_REPLACEMENT)  # truncated at the end
            break
        elif 0xF0 <= b1 <= 0xF7:
            if sp + 2 < sl:
                b2, b3, b4 = src[sp], src[sp + 1], src[sp + 2]
                cp = ((b1 & 0x07) << 18) | ((b2 & 0x3F) << 12) | ((b3 & 0x3F) << 6) | (b4 & 0x3F)
                if _cont(b2) and _cont(b3) and _cont(b4) and 0x10000 <= cp <= 0x10FFFF:
                    out.append(chr(cp))
                    sp += 3
                else:
                    out.append(_REPLACEMENT)
                    sp += _malformed4(src, sp - 1) - 1
                continue
            if b1 > 0xF4 or (sp < sl and _bad_4_2(b1, src[sp])):
                out.append(_REPLACEMENT)
                continue
            sp += 1
            out.append(_REPLACEMENT)  # truncated at the end
            if sp < sl and not _cont(src[sp]):
                continue
            break
        else:
            out.append(_REPLACEMENT)
    return "".join(out)
