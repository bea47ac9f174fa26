"""How the stand-in servers answer an LLM judge: a deterministic, parseable verdict.

tracepond's judges (``tracepond.judges``) send a system prompt that starts with the marker
``[tracepond-judge:CRITERION]`` and a user message of tagged sections (``<request>``,
``<response>``, ``<expected_response>``, ``<expected_facts>``, ``<context>``, ``<guidelines>``).
The stand-ins recognise the marker and answer ``{"result": "yes"|"no", "rationale": "..."}``
by these rules, so judges run offline in tests and in the demo:

- ``correctness``: yes when the expected response (or every expected fact) appears in the
  response, ignoring case;
- ``relevance_to_query``: yes when the response shares a word of 4+ letters with the request;
- ``guidelines``: a guideline ``must mention 'X'`` needs X in the response, ``must not mention
  'X'`` (or ``never mention 'X'``) needs it absent; other guidelines pass;
- ``safety``: no when the response holds one of a few unsafe words (kill, bomb, weapon, ...);
- ``groundedness``: yes when at least half the response's 4+ letter words are in the context;
- any other criterion (``make_judge``): as correctness when an expected response is given,
  else yes.

A scripted reply (``reply_next`` / ``reply``) still wins, so a test can make a judge answer
something unparseable.
"""

from __future__ import annotations

import json
import re

MARKER = re.compile(r"\[tracepond-judge:([\w.-]+)\]")
_SECTION = re.compile(r"<(\w+)>\n?(.*?)\n?</\1>", re.DOTALL)
_WORD = re.compile(r"[A-Za-z]{4,}")
_QUOTED = re.compile(r"(must not|never|must) mention '([^']+)'", re.IGNORECASE)
UNSAFE_WORDS = ("kill", "bomb", "weapon", "poison", "hate")


def verdict(system: str, user: str) -> str | None:
    """The judge's answer as JSON text, or None when this is not a tracepond judge prompt."""
    found = MARKER.search(system)
    if found is None:
        return None
    sections = {name: text.strip() for name, text in _SECTION.findall(user)}
    rule = _RULES.get(found.group(1), _custom)
    passed, rationale = rule(sections)
    return json.dumps({"result": "yes" if passed else "no", "rationale": rationale})


def _words(text: str) -> set[str]:
    return {word.casefold() for word in _WORD.findall(text)}


def _correctness(s: dict[str, str]) -> tuple[bool, str]:
    response = s.get("response", "").casefold()
    if "expected_facts" in s:
        facts = [f.strip("- ").strip() for f in s["expected_facts"].splitlines() if f.strip()]
        missing = [f for f in facts if f.casefold() not in response]
        if missing:
            return False, f"The response misses the expected fact(s): {'; '.join(missing)}."
        return True, "The response states every expected fact."
    expected = s.get("expected_response", "")
    if expected.casefold() in response:
        return True, f"The response contains the expected answer {expected!r}."
    return False, f"The response does not contain the expected answer {expected!r}."


def _relevance(s: dict[str, str]) -> tuple[bool, str]:
    shared = sorted(_words(s.get("request", "")) & _words(s.get("response", "")))
    if shared:
        return True, f"The response addresses the request (shared words: {', '.join(shared)})."
    return False, "The response shares no subject with the request."


def _guidelines(s: dict[str, str]) -> tuple[bool, str]:
    response = s.get("response", "").casefold()
    for rule, word in _QUOTED.findall(s.get("guidelines", "")):
        present = word.casefold() in response
        if rule.casefold() == "must" and not present:
            return False, f"The response does not mention {word!r}, which a guideline requires."
        if rule.casefold() != "must" and present:
            return False, f"The response mentions {word!r}, which a guideline forbids."
    return True, "The response follows every guideline."


def _safety(s: dict[str, str]) -> tuple[bool, str]:
    words = _words(s.get("response", ""))
    unsafe = sorted(w for w in UNSAFE_WORDS if any(x.startswith(w) for x in words))
    if unsafe:
        return False, f"The response contains unsafe content ({', '.join(unsafe)})."
    return True, "The response contains nothing unsafe."


def _groundedness(s: dict[str, str]) -> tuple[bool, str]:
    said, context = _words(s.get("response", "")), _words(s.get("context", ""))
    if not said:
        return True, "The response makes no claim."
    supported = len(said & context) / len(said)
    if supported >= 0.5:
        return True, f"{supported:.0%} of the response's words are supported by the context."
    return False, f"Only {supported:.0%} of the response's words appear in the context."


def _custom(s: dict[str, str]) -> tuple[bool, str]:
    if "expected_response" in s or "expected_facts" in s:
        return _correctness(s)
    return True, "The stand-in judge found nothing to object to."


_RULES = {
    "correctness": _correctness,
    "relevance_to_query": _relevance,
    "guidelines": _guidelines,
    "safety": _safety,
    "groundedness": _groundedness,
}
