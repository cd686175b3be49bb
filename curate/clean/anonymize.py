"""PII in free text: find it with regular expressions, confirm it with checksums, replace it.

Entities: ``email``, ``phone`` (international ``+CC`` and national formats), ``ip``
(IPv4 and IPv6, confirmed by :mod:`ipaddress`), ``credit_card`` (Luhn-checked), ``iban``
(mod-97-checked) and ``url_credentials`` (``scheme://user:password@host``). Matches are
replaced by typed placeholders (``<EMAIL>``) or by salted-hash pseudonyms
(``<EMAIL:3f2a9c1b>``, the same input always giving the same pseudonym).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections import Counter
from typing import TYPE_CHECKING, Callable

from curate.registry import Registry

if TYPE_CHECKING:
    import pandas as pd


def luhn_ok(digits: str) -> bool:
    """Luhn checksum of a card number (digits only).

    Examples
    --------
    >>> luhn_ok("4111111111111111"), luhn_ok("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN (spaces allowed).

    Examples
    --------
    >>> iban_ok("GB82 WEST 1234 5698 7654 32"), iban_ok("GB82 WEST 1234 5698 7654 33")
    (True, False)
    """
    s = iban.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ip_ok(text: str) -> bool:
    if ":" in text and not any(c in "0123456789abcdefABCDEF" for c in text):
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


_DATE = re.compile(r"\d{4}[\-./]\d{1,2}[\-./]\d{1,2}|\d{1,2}[\-./]\d{1,2}[\-./]\d{4}")


def _phone_ok(text: str) -> bool:
    if _DATE.fullmatch(text):
        return False
    digits = sum(c.isdigit() for c in text)
    return 7 <= digits <= 15


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"

#: PII entity -> (pattern, confirm): the ``entities`` an ``anonymize`` step may name; third
#: parties add theirs through the ``curaug.pii_entities`` entry point group. Order matters:
#: credentials before e-mail (user:pw@host), IBAN and card numbers before phone numbers
#: (long digit runs).
PII_ENTITIES: Registry[tuple[re.Pattern, Callable[[str], bool] | None]] = Registry(
    "PII entity", entry_points="curaug.pii_entities")
_BUILT_IN = {
    "url_credentials": (re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]+:[^\s@/]+@[^\s/?#]+[^\s]*"), None),
    "email": (re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"), None),
    "iban": (re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), iban_ok),
    "credit_card": (re.compile(r"(?<![\d.])(?:\d[ \-]?){12,18}\d(?![\d.])"),
                    lambda m: luhn_ok(re.sub(r"\D", "", m))),
    "ip": (re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w.])"
                      r"|(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), _ip_ok),
    "phone": (re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{1,5}\)[\s.\-]?)?\d{2,5}(?:[\s.\-]\d{2,5}){1,4}(?!\w)"
                         r"|(?<![\w+])\+\d{7,15}(?!\w)|(?<![\w+])0\d{9,10}(?!\w)"), _phone_ok),
}
for _name, _entry in _BUILT_IN.items():
    PII_ENTITIES.register(_name, _entry)


def pseudonym(value: str, salt: str, entity: str | None = None, length: int = 8) -> str:
    """A stable salted-hash stand-in for ``value``."""
    digest = hashlib.sha256(f"{salt}\x00{value}".encode("utf-8")).hexdigest()[:length]
    return f"<{entity.upper()}:{digest}>" if entity else digest


def scrub(texts: "pd.Series", entities: list[str], replace: str = "placeholder",
          salt: str = "") -> tuple["pd.Series", Counter, "pd.Series"]:
    """Replace PII in a text column; return (new texts, matches per entity, changed mask).

    Examples
    --------
    >>> import pandas as pd
    >>> out, counts, changed = scrub(pd.Series(["mail a.b@x.org now", "clean"]), ["email"])
    >>> out.tolist(), dict(counts), changed.tolist()
    (['mail <EMAIL> now', 'clean'], {'email': 1}, [True, False])
    """
    counts: Counter = Counter()
    present = texts.notna()
    out = texts.astype("string")
    for entity, (pattern, confirm) in PII_ENTITIES.items():
        if entity not in entities:
            continue
        may_match = out.str.contains(pattern, na=False)
        if not may_match.any():
            continue

        def substitute(m: re.Match, entity=entity, confirm=confirm) -> str:
            found = m.group(0)
            if confirm is not None and not confirm(found):
                return found
            counts[entity] += 1
            return pseudonym(found, salt, entity) if replace == "hash" else f"<{entity.upper()}>"

        out.loc[may_match] = out.loc[may_match].str.replace(pattern, substitute, regex=True)
    changed = present & (out.fillna("") != texts.astype("string").fillna(""))
    return out.where(present, texts), counts, changed
