"""Train-only DE/FR/ES attacks and hard benign texts, many per attack kind (the language round).

The attack-kinds round (docs/injection.md "Attack kinds") wrote 17 DE/FR/ES attacks per kind and
concluded that the languages need "many more attacks per kind (hundreds, not dozens) with as many
hard benign texts". These tables hold 132 attacks and 209-217 hard benign texts per language,
written one by one (``bench/injection_own_lang_{de,fr,es}.py``) from the attack kinds of the English
public training sets, never from report texts: instruction override in many phrasings, prompt /
system-prompt extraction, persona jailbreaks, fiction and grandmother framing, goal hijacking inside
translation / summary / classification tasks, indirect injection in e-mails, web pages, documents,
CVs, code comments and reviews, exfiltration (an address, a webhook, a markdown image URL), tool
abuse (delete, transfer, close tickets, shell), claimed authority, payload splitting, fake system /
developer messages, "print the text above" and "answer without restrictions". The benign texts use
the same words for ordinary requests: support questions ("ignorer", "instrucciones",
"Systemaufforderung"), e-mails that ask to disregard a previous mail, role play for training,
fiction, translation requests of texts that say "ignore", password and administrator questions,
code, tool requests (delete cancelled meetings, send the minutes), and prompt writing.

The benign tables also hold ordinary texts with the words, links, addresses and markup the attacks
lean on (``vocab``, ``links``, ``markup``, ``dev``, ``chat``): with only attacks using "conversation", "configuration",
"sans / sin / ohne" or a URL, the model learnt those words as attack cues (validation slices).

Every row is in set ``own_train`` (always the **train** split). Each row's ``group`` is
``own_lang:<lang>:<label>:<kind>:<n>`` (five texts of one kind in a row share a group), so that
``bench.train_injection --validate --by-group`` holds out whole groups.
"""

from __future__ import annotations

from bench import injection_own_lang_de as de
from bench import injection_own_lang_es as es
from bench import injection_own_lang_fr as fr

TABLES = {"de": de, "fr": fr, "es": es}
GROUP_SIZE = 5


def build() -> list[dict]:
    """The rows, in a fixed order (language, label, kind, text)."""
    rows = []
    for lang, module in TABLES.items():
        for label, table in ((1, module.ATTACKS), (0, module.BENIGN)):
            for kind, texts in table.items():
                for i, text in enumerate(texts):
                    rows.append({"text": text, "label": label, "set": "own_train", "lang": lang,
                                 "group": f"own_lang:{lang}:{label}:{kind}:{i // GROUP_SIZE}",
                                 "source": f"bench/injection_own_lang_{lang}.py {'ATTACKS' if label else 'BENIGN'} {kind}",
                                 "license": "project (Apache-2.0)"})
    return rows


def counts() -> dict:
    out: dict = {}
    for r in build():
        out[(r["lang"], r["label"])] = out.get((r["lang"], r["label"]), 0) + 1
    return out


if __name__ == "__main__":
    for (lang, label), n in sorted(counts().items()):
        print(lang, "attacks" if label else "benign", n)
