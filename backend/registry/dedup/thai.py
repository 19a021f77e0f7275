"""Thai script to a rough Latin spelling, so that a name typed in Thai meets the same
name registered in one of its romanisations.

Not a full RTGS transcription (that needs a dictionary of syllable breaks and silent
letters); a letter-by-letter one that is close enough for `keys.phonetic` to make the
usual spellings of a Thai name agree: initial and final consonant sounds as RTGS
writes them, leading vowels moved after their consonant (or cluster), tone marks
dropped, a letter silenced by the thanthakhat dropped, and the inherent vowel left
out (the phonetic key ignores most vowels anyway). A consonant after one that closed a
syllable opens the next ("ชายสม" is chai-som, not chai-t-m), a consonant before ร, ล
or ว and a vowel sign opens a cluster ("ธนาศรี" is thana-si), and รร is the vowel a
("วรรณ" is wan).
"""

from __future__ import annotations

_INITIAL = {
    "ก": "k", "ข": "kh", "ฃ": "kh", "ค": "kh", "ฅ": "kh", "ฆ": "kh", "ง": "ng", "จ": "ch",
    "ฉ": "ch", "ช": "ch", "ซ": "s", "ฌ": "ch", "ญ": "y", "ฎ": "d", "ฏ": "t", "ฐ": "th",
    "ฑ": "th", "ฒ": "th", "ณ": "n", "ด": "d", "ต": "t", "ถ": "th", "ท": "th", "ธ": "th",
    "น": "n", "บ": "b", "ป": "p", "ผ": "ph", "ฝ": "f", "พ": "ph", "ฟ": "f", "ภ": "ph",
    "ม": "m", "ย": "y", "ร": "r", "ฤ": "rue", "ล": "l", "ว": "w", "ศ": "s", "ษ": "s",
    "ส": "s", "ห": "h", "ฬ": "l", "อ": "", "ฮ": "h",
}
# A consonant closing a syllable is one of few sounds.
_FINAL = {c: "k" for c in "กขฃคฅฆ"} | {c: "t" for c in "จฉชซฌฎฏฐฑฒดตถทธศษส"} | {
    c: "p" for c in "บปผฝพฟภ"} | {c: "n" for c in "ญณนรลฬ"} | {
    "ม": "m", "ง": "ng", "ย": "i", "ว": "o", "อ": "o", "ห": "", "ฮ": ""}
_VOWEL_AFTER = {
    "ะ": "a", "ั": "a", "า": "a", "ำ": "am", "ิ": "i", "ี": "i", "ึ": "ue", "ื": "ue",
    "ุ": "u", "ู": "u", "ๅ": "a",
}
_LEADING = {"เ": "e", "แ": "ae", "โ": "o", "ใ": "ai", "ไ": "ai"}
_SILENT = set("่้๊๋็ํ๎ฯ")  # tone marks, the shortener, and the abbreviation sign
_KILLER = "์"  # thanthakhat: the letter under it is not sounded
_CLUSTER_SECOND = set("รลว")
_SILENT_BEFORE_R = set("ทต")
_SILENT_R_AFTER = set("สศษซ")
_ROR_HAN = "รร"  # two ror: the vowel a (and the final n when nothing closes it)


def romanise(text: str) -> str:
    """A Latin spelling of Thai letters in `text`; other characters pass unchanged."""
    chars = _unkill(text.replace(_ROR_HAN, "ั"))
    out: list[str] = []
    closed = False  # the letter before closed a syllable
    i = 0
    while i < len(chars):
        char = chars[i]
        was_closed, closed = closed, False
        if char in _LEADING:
            # a leading vowel is sounded after its consonant (or two-letter cluster)
            j = i + 1
            onset = ""
            if j < len(chars) and chars[j] in _INITIAL:
                onset = _INITIAL[chars[j]]
                j += 1
                if j < len(chars) and chars[j] in _CLUSTER_SECOND and _next_is_vowel(chars, j):
                    if not (chars[j] == "ร" and chars[j - 1] in _SILENT_R_AFTER):
                        onset += _INITIAL[chars[j]]
                    j += 1
            out.append(onset + _LEADING[char])
            i = j
            continue
        if char == "อ" and i > 0 and chars[i - 1] in _INITIAL and not (
                i + 1 < len(chars) and chars[i + 1] in _VOWEL_AFTER):
            out.append("o")  # the vowel o between consonants: ทอง is "thong"
            i += 1
            continue
        if char in _INITIAL:
            if was_closed and char == "ร" and _ends_word(chars, i + 1):
                i += 1  # silent after a final: เพชร is "phet", บุตร "but"
                continue
            final = (not was_closed and _is_final(chars, i) and not _opens_cluster(chars, i)
                     and not _last_alone(chars, i))
            out.append(_FINAL.get(char, _INITIAL[char]) if final else _INITIAL[char])
            closed = final
            if not final and char in _SILENT_R_AFTER and i + 2 < len(chars) \
                    and chars[i + 1] == "ร" and chars[i + 2] in _VOWEL_AFTER:
                i += 1  # ร silent after ส, ศ, ซ: เสริฐ is "soet", ศรี "si"
        elif char in _VOWEL_AFTER:
            out.append(_VOWEL_AFTER[char])
        elif char in _SILENT:
            pass
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _unkill(text: str) -> list[str]:
    """The letters with any letter under a thanthakhat (and the mark) taken out."""
    kept: list[str] = []
    for char in text:
        if char == _KILLER:
            while kept and kept[-1] in _SILENT or (kept and kept[-1] in _VOWEL_AFTER):
                kept.pop()
            if kept and kept[-1] in _INITIAL:
                killed = kept.pop()
                # ทร์ and ตร์ are silent together: จันทร์ is "chan", ศาสตร์ "sat"
                if killed == "ร" and kept and kept[-1] in _SILENT_BEFORE_R:
                    kept.pop()
            continue
        kept.append(char)
    return kept


def _ends_word(chars: list[str], i: int) -> bool:
    return i >= len(chars) or chars[i] == " "


def _last_alone(chars: list[str], i: int) -> bool:
    """Whether the consonant after i ends the word with no vowel sign of its own: then
    the one at i opens their syllable (สม is "som": มณีสม, not "mani-t-m")."""
    return (i + 1 < len(chars) and chars[i + 1] in _INITIAL and chars[i + 1] != "ร"
            and _ends_word(chars, i + 2))


def _opens_cluster(chars: list[str], i: int) -> bool:
    """Whether the consonant at i and a ร, ล or ว after it, with a vowel sign after
    that, open one syllable together (ศรี, ปรี, กลา, ขวา)."""
    return (i + 2 < len(chars) and chars[i + 1] in _CLUSTER_SECOND
            and chars[i + 2] in _VOWEL_AFTER and chars[i] not in _CLUSTER_SECOND)


def _next_is_vowel(chars: list[str], j: int) -> bool:
    return j + 1 >= len(chars) or chars[j + 1] not in _INITIAL or chars[j + 1] == "อ"


def _is_final(chars: list[str], i: int) -> bool:
    """Whether the consonant at i closes a syllable: a vowel sign or a consonant came
    before it and none follows it directly (a rough rule, good for names)."""
    if i == 0 or chars[i - 1] == " ":
        return False
    before = chars[i - 1]
    after = chars[i + 1] if i + 1 < len(chars) else " "
    if after in _VOWEL_AFTER or after in _SILENT and after != "็":
        return after in _SILENT and (i + 2 >= len(chars) or chars[i + 2] not in _VOWEL_AFTER
                                     ) and before not in _LEADING and before != " "
    if before in _LEADING:
        return False
    return after == " " or after in _INITIAL or after in _LEADING


def has_thai(text: str) -> bool:
    return any("\u0e00" <= char <= "\u0e7f" for char in text)
