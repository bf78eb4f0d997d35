#!/usr/bin/env python3
"""Writes regex_vectors.json: what Python's re.match answers, for the Go test
that checks permission.Pattern against it.

Run from this folder with the python3 on the machine:
    python3 gen_regex_vectors.py > regex_vectors.json
"""
import json
import re
import sys
import unicodedata

# Patterns Python accepts and RE2 can express: Pattern.Match must agree.
PATTERNS = [
    r"^team-a/", r"team-a/.*", r"^(team-a|team-b)/", r"(team-a|team-b)/.+", r"[a-z]+-prod$",
    r"\d+", r"^\d{3}$", r"\d", r"\D+", r"\w+$", r"^\w+\s\w+$", r"\w", r"\W", r"\s", r"\S+$",
    r"\bprod\b", r".*\bprod", r"prod\b", r"\Bb", r"a\B", r".*\b", r"^exp-\d+$",
    r"(?i)^team", r"(?i)straße", r"(?i)k", r"(?i)ſ", r"(?i)i", r"(?i)[a-z]+$", r"(?i:A)b",
    r"$", r"^$", r"a$", "a$\n", r"a\Z", r"(?m)a$", r"(?m)^b", r"(?s)a.", r"a.", r".*", r"", r"x*",
    r"[\w-]+$", r"[^\W\d]+$", r"[\s\S]", r"[\D]+$", r"[\S]+$", r"[]a]", r"[^]a]", r"[\b]",
    r"a{,2}b", r"\x41", r"\u00e9", r"caf\u00e9", r"[[:alpha:]]", r"(?a)\w+$", r"(?a)\bé",
    r"(?a)\d", r"(?a)\s", r"é\b", r"\bé", r"日本", r"\w+語", r"(?P<x>a)b", r"(?#comment)a",
    r"a|b", r"\.", r"\$", r"\\", r"[.]", r"\0", r"[-a]", r"[a-]", r"[\^a]", r"[a^]",
    r"\w+\b", r"\b\w", r"(?i)\bÉ", r"^\s*$", r"½", r"\d\d",
]

# Patterns Python accepts that RE2 cannot express: CompilePattern must refuse them.
REJECT = [
    r"(?=a)", r"a(?!b)", r"(?<=a)b", r"(?<!a)b", r"(a)\1", r"(?P<x>a)(?P=x)",
    r"(a)?(?(1)b|c)", r"(?>a)", r"a*+", r"a++", r"a?+", r"a{1,2}+",
]

NAMES = [
    "team-a/x", "team-b/y", "Team-A/z", "team-c/", "exp-123", "123", "1234", "١٢٣", "٣", "café",
    "CAFE", "Straße", "STRASSE", "prod", "my prod", "prodx", "x-prod", "Kelvin\u212a", "\u212a",
    "k", "K", "a", "a\n", "a\n\n", "b\nc", "\nb", "", " ", "\u00a0", "\u2003x", "\x1c", "é", "éa",
    "aé", "É", "日本語", "名前_1", "a b", "x_y", "ab", "ac", "abc", "A", "Ab", "aB", "ABC", "b", "bb",
    "\u0660x", "Ⅻ", "½", "²", "ſ", "s", "ß", "\u0130", "i", "I", "mixed-Prod-2", "a.", "a\nb",
    "$", "\\", ".", "-", "^", "\x08", "\x00", "]", "[", ":", "éé", "ab\n", "x y\n",
]


def ranges(pred):
    out, lo = [], None
    for c in range(0x110001):
        inside = c <= 0x10FFFF and pred(c)
        if inside and lo is None:
            lo = c
        elif not inside and lo is not None:
            out.append([lo, c - 1])
            lo = None
    return out


def main():
    vectors = []
    for p in PATTERNS:
        rx = re.compile(p)
        for n in NAMES:
            vectors.append({"pattern": p, "name": n, "match": rx.match(n) is not None})
    for p in REJECT:
        re.compile(p)  # Python itself accepts it
    word = re.compile(r"\w")
    digit = re.compile(r"\d")
    space = re.compile(r"\s")
    json.dump({
        "python": sys.version.split()[0],
        "unicode": unicodedata.unidata_version,
        "vectors": vectors,
        "reject": REJECT,
        # Code points Python does not assign are left out of the class checks:
        # Go's Unicode tables may be newer.
        "unassigned": ranges(lambda c: unicodedata.category(chr(c)) == "Cn"),
        "word": ranges(lambda c: word.match(chr(c)) is not None),
        "digit": ranges(lambda c: digit.match(chr(c)) is not None),
        "space": ranges(lambda c: space.match(chr(c)) is not None),
    }, sys.stdout, ensure_ascii=True, indent=0)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
