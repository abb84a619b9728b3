"""What a prompt is about: its words, its clauses, and its focus (the subject and the place it is in).

Rule-based and deterministic, no tagger: a subject is the head of the first noun phrase ("a fluffy
orange cat" -> "cat"), a place the head of a noun phrase after a place preposition ("on a sofa" ->
"sofa"). Suggestions and rewrites name the prompt's own focus ("slow push in on the cat on the sofa")
instead of a canned example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.engine.prompts import MOOD_WORDS, MOTION_VERBS, SCENE_WORDS, SUBJECT_WORDS

__all__ = [
    "STOPWORDS",
    "Focus",
    "clauses",
    "content_words",
    "find_focus",
    "missing_words",
    "words",
    "wordset",
]


def wordset(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` as a set (word lists read best as text)."""
    return frozenset(text.split())


_TOKEN = re.compile(r"[a-z0-9][a-z0-9'-]*")
_CLAUSE = re.compile(r"[,;!?\n]+|\.(?=\s|$)|\s[-\u2013\u2014]\s")

# Grammar, not content: a rewrite may drop or change these; every other word of a prompt is kept.
STOPWORDS = wordset("""
    a an the and or but nor so yet of on in at to by for with from into onto over under up down off out
    as than then that this these those there here it its it's is are was were be been being am has have had
    do does did will would should could can may might must shall not no very just also too some any each
    every all both either neither one which who whom whose what when where while why how i me my we our us
    you your he him his she her they them their
    """)
_DETERMINERS = wordset(
    "a an the one two three four five some several many his her their its our my this that these those"
)
_PLACE_PREPS = {
    "on": "on",
    "in": "in",
    "at": "at",
    "by": "by",
    "under": "under",
    "inside": "inside",
    "near": "near",
    "beside": "beside",
    "behind": "behind",
    "above": "above",
    "below": "below",
    "beneath": "beneath",
    "against": "against",
    "among": "among",
    "around": "around",
    "outside": "outside",
    "within": "in",
    "across": "on",
    "along": "along",
    "through": "in",
    "over": "over",
    "into": "in",
    "onto": "on",
}
_VERBS = wordset("""
    is are was were has have had sits sit sleeps sleep stands stand lies lie looks look reads read holds hold
    waits wait watches watch plays play sings sing eats eat drinks drink smiles smile laughs laugh talks talk
    works work rests rest stares stare pours pour opens open closes close cooks cook paints paint writes
    write hugs hug kisses kiss sips sip leans lean wears wear carries carry thickens grows becomes begins
    starts fades shifts turns reveals ends transitions settles glows shines burns flickers sets
    """)
_CHUNK_STOP = frozenset(_PLACE_PREPS) | wordset(
    "and or but with while as then that which who whose toward towards past from of to for"
)
# Times of day are scene (and set the light) but are not a place to frame ("at night").
TIMES = wordset("night midnight dawn dusk sunset sunrise morning evening noon twilight afternoon")
_NOT_FOCUS = wordset("""
    camera frame viewer lens screen background backdrop shot shots clip end beginning start push pan tilt
    dolly zoom close-up closeup angle view move movement slow fast forward backward toward towards handheld
    tracking whip rack focus crane aerial steadicam fpv locked-off static nothing something everything
    someone everyone anyone nobody
    """)

PEOPLE = wordset("""
    man men woman women person people child children boy boys girl girls crowd dancer dancers chef driver
    worker workers soldier couple family team band character barista musician singer skater surfer runner
    athlete player teacher doctor nurse farmer fisherman mother father grandmother grandfather baby kid
    kids student students customer customers astronaut knight detective scientist friends
    """)
ANIMALS = wordset("""
    cat cats kitten dog dogs puppy horse horses bird birds fish whale deer wolf fox owl eagle butterfly
    jellyfish elephant lion tiger bear rabbit squirrel
    """)
VEHICLES = wordset("car cars train bus bicycle bike boat ship plane drone truck motorcycle")
_KNOWN = SUBJECT_WORDS | SCENE_WORDS | PEOPLE | ANIMALS | VEHICLES


def words(text: str) -> list[str]:
    """The text's words, lower-cased, in order."""
    return _TOKEN.findall(text.lower())


def content_words(text: str) -> list[str]:
    """The concrete words of ``text`` (not grammar), once each, in order."""
    return list(dict.fromkeys(w for w in words(text) if w not in STOPWORDS))


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def missing_words(required: list[str], text: str) -> list[str]:
    """The ``required`` words ``text`` does not contain (an inflection counts: "runs" keeps "running")."""
    present = set(words(text))
    stems = {_stem(w) for w in present}
    return [w for w in required if w not in present and _stem(w) not in stems]


def clauses(text: str) -> list[str]:
    """The prompt cut at commas, semicolons, sentence ends and dashes; each clause stripped."""
    return [c.strip(" .\t\"'") for c in _CLAUSE.split(text) if c.strip(" .\t\"'")]


@dataclass(frozen=True)
class Focus:
    """The prompt's subject and place (head nouns), the preposition between them, and the subject's kind:
    ``person``, ``animal``, ``vehicle``, ``object``, or ``landscape`` when only a place was found."""

    subject: str | None = None
    place: str | None = None
    preposition: str = "in"

    @property
    def kind(self) -> str:
        if self.subject is None:
            return "landscape" if self.place else "none"
        for kind, vocabulary in (("person", PEOPLE), ("animal", ANIMALS), ("vehicle", VEHICLES)):
            if self.subject in vocabulary:
                return kind
        return "object"

    @property
    def noun(self) -> str:
        """The subject alone ("the cat"), else the place ("the forest"), else "the scene"."""
        if self.subject:
            return f"the {self.subject}"
        return f"the {self.place}" if self.place else "the scene"

    @property
    def phrase(self) -> str:
        """The subject in its place ("the cat on the sofa"), or whichever of the two was found."""
        if self.subject and self.place:
            return f"the {self.subject} {self.preposition} the {self.place}"
        return self.noun


def _is_head(word: str) -> bool:
    """Could ``word`` name a thing? Not grammar, a number, a mood, an adverb or a camera term."""
    if word in _NOT_FOCUS:
        return False
    if word in _KNOWN:
        return True
    return not (word in STOPWORDS or word in MOOD_WORDS or word[0].isdigit() or word.endswith("ly"))


def _chunk_head(tokens: list[str], start: int) -> tuple[str | None, int, bool]:
    """The head noun of the noun phrase starting at ``start`` (determiners skipped), the index after it,
    and whether a verb ended it ("beans tumbling": a subject, even without an article)."""
    i = start
    while i < len(tokens) and tokens[i] in _DETERMINERS:
        i += 1
    chunk: list[str] = []
    verb = False
    while i < len(tokens) and len(chunk) < 5:
        word = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        verb = (
            word in _VERBS
            or MOTION_VERBS.fullmatch(word) is not None
            or word.endswith("ing")
            or (word.endswith("s") and nxt.endswith("ly"))  # "the mist thickens gradually"
        )
        if word in _CHUNK_STOP or word in _DETERMINERS or (chunk and verb):
            break
        chunk.append(word)
        i += 1
    while chunk and chunk[-1].endswith("ly") and chunk[-1] not in _KNOWN:
        chunk.pop()  # "a cat slowly ..."
    head = chunk[-1].removesuffix("'s") if chunk else None
    return (head if head and _is_head(head) else None), max(i, start + 1), verb and bool(chunk)


def _clause_focus(tokens: list[str]) -> tuple[str | None, str | None, str | None]:
    """(subject, place, preposition) found in one clause's tokens."""
    subject = place = prep = None
    i = 0
    while i < len(tokens):
        word = tokens[i]
        if word in _PLACE_PREPS:
            head, i, _ = _chunk_head(tokens, i + 1)
            if place is None and head and head not in TIMES:
                place, prep = head, _PLACE_PREPS[word]
            continue
        bare = i == 0 and word not in STOPWORDS
        if not (word in _DETERMINERS or bare):
            i += 1
            continue
        head, i, before_verb = _chunk_head(tokens, i)
        if head is None or head in TIMES or (bare and head not in _KNOWN and not before_verb):
            continue
        if head in SCENE_WORDS and head not in SUBJECT_WORDS:
            place = place or head
        elif subject is None:
            subject = head
    return subject, place, prep


def find_focus(prompt: str) -> Focus:
    """The first subject and the first place the prompt names (vocabulary words as a last resort)."""
    subject = place = None
    prep = "in"
    for clause in clauses(prompt):
        found_subject, found_place, found_prep = _clause_focus(words(clause))
        if subject is None and found_subject is not None:
            subject = found_subject
        if place is None and found_place is not None:
            place, prep = found_place, found_prep or "in"
    tokens = words(prompt)
    if subject is None:
        subject = next((w for w in tokens if w in SUBJECT_WORDS), None)
    if place is None:
        place = next((w for w in tokens if w in SCENE_WORDS and _is_head(w) and w not in TIMES), None)
        place = place or next((w for w in tokens if w in TIMES), None)
    if place == subject:
        place = None
    return Focus(subject, place, prep)
