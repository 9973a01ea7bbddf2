"""Small configs and messages with what the real fdm printed for them: the details of matching and
actions that the corpus's differential (rules, action items, outcome) does not show, read from the
commands' text. Each config's `exec "echo ..."` actions print; under the real binaries each echo
appends to a file (`>> OUT`), and the router's commands carry the same words.

tests/unit/test_fdm_router_cases.py routes each case; tests/integration/test_fdm_cases_real.py runs
fdm 1.9 and fdm 2.x on the same cases (as root, TZ=UTC0), so the answers stay what fdm does.
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    name: str
    config: str
    """After an `account "stdin" stdin` line; `OUT` is where the real run's echoes go."""
    message: str
    printed: list[str]
    """The echoes, in order."""
    kept: bool = False


CASES = [
    Case(
        "an `or` after a true value is not evaluated: the first regex's groups stay",
        'match "^A: (.*)" or "^B: (.*)" action exec "echo or=%1 >> OUT"\n',
        "A: aval\nB: bval\n\nbody\n",
        ["or=aval"],
    ),
    Case(
        "a negated regex that fails clears the groups; the `or` after it runs and finds none",
        'match not "^A: (.*)" or "^B: (.*)" action exec "echo or=%1 >> OUT"\n',
        "X: aval\nB: bval\n\nbody\n",
        ["or="],
    ),
    Case(
        "an `and` after a false value is not evaluated: its regex does not set the groups",
        'match "^C: (c.*)" action exec "echo c=%1 >> OUT" continue\n'
        'match "^A:" and "^B: (.*)" action exec "echo ab=%1 >> OUT" continue\n'
        'match all action exec "echo all=%1 >> OUT"\n',
        "C: cval\nB: bval\n\nbody\n",
        ["c=cval", "all="],
    ),
    Case(
        "a drop action after a keep action: dropped",
        'action "k" keep\naction "d" drop\nmatch all action "k" continue\nmatch all action "d"\n',
        "S: x\n\nb\n",
        [],
    ),
    Case(
        "an inline drop after a keep action: dropped",
        'action "k" keep\nmatch all action "k" continue\nmatch all action drop\n',
        "S: x\n\nb\n",
        [],
    ),
    Case(
        "a keep action after a drop action: kept",
        'action "k" keep\naction "d" drop\nmatch all action "d" continue\nmatch all action "k"\n',
        "S: x\n\nb\n",
        [],
        kept=True,
    ),
    Case(
        "a tag without a value is empty",
        'action "t" tag "foo"\nmatch all action "t" continue\n'
        'match all action exec "echo x%[foo]y >> OUT"\n',
        "S: x\n\nb\n",
        ["xy"],
    ),
    Case(
        "a tag with a value, seen by a later rule's condition and command",
        'action "t" tag "foo" value "b%[account]r"\nmatch all action "t" continue\n'
        'match string "%[foo]" to "^bstdinr$" action exec "echo %[foo] >> OUT"\n',
        "S: x\n\nb\n",
        ["bstdinr"],
    ),
    Case(
        "user and home are set only while an action runs: empty for the conditions after it",
        'match all action exec "echo a >> OUT" continue\n'
        'match string "%[user]" to "^$" action exec "echo empty >> OUT" continue\n'
        'match string "%[home]" to "^$" action exec "echo emptyhome >> OUT" continue\n'
        'match all action exec "echo u=%[user] h=%[home] >> OUT"\n',
        "S: x\n\nb\n",
        ["a", "empty", "emptyhome", "u=root h=/root"],
    ),
    Case(
        "an action name made from a match group loses the shell's characters",
        'action "a_bc" exec "echo abc >> OUT"\nmatch "^X: (.*)" action "a_%1"\n',
        "X: b;c\n\nb\n",
        ["abc"],
    ),
    Case(
        "an added header with an 8-bit value is matched by a later rule",
        'action "h" add-header "X-A" "caf\udce9"\nmatch all action "h" continue\n'
        'match "^X-A: caf.$" action exec "echo found >> OUT"\n',
        "S: x\n\nb\n",
        ["found"],
    ),
    Case(
        "remove-headers goes on to the next name when one removes nothing",
        'action "r" remove-headers { "X-None" "X-B" }\nmatch all action "r" continue\n'
        'match "^X-B:" action exec "echo still >> OUT"\n'
        'match all action exec "echo gone >> OUT"\n',
        "X-B: 1\nS: x\n\nb\n",
        ["gone"],
    ),
    Case(
        "a header removed twice before a folded one, then one added: the fold is put back in place",
        'action "r" remove-header "X-A"\naction "h" add-header "X-B" "b"\n'
        'match all action "r" continue\nmatch all action "h" continue\n'
        'match "^Subject: one$" action exec "echo refolded >> OUT" continue\n'
        'match "^body$" in body action exec "echo bodyok >> OUT"\n',
        "X-A: 1\nX-A: 2\nS: s\nSubject: one\n two\n\nbody\n",
        ["bodyok"],
    ),
    Case(
        "removed headers around a folded one, then one added",
        'action "r" remove-header "X-A"\naction "h" add-header "X-B" "b"\n'
        'match all action "r" continue\nmatch all action "h" continue\n'
        'match "^Subject: one$" action exec "echo refolded >> OUT" continue\n'
        'match "^body$" in body action exec "echo bodyok >> OUT"\n',
        "X-A: 1\nS: s\nX-A: 2\nSubject: one\n two\nX-A: 3\n\nbody\n",
        ["bodyok"],
    ),
    Case(
        "removing a header forgets the match groups",
        'action "r" remove-header "X-A"\nmatch "^S: (.*)" action "r" continue\n'
        'match all action exec "echo g=%1 >> OUT"\n',
        "X-A: 1\nS: s\n\nbody\n",
        ["g="],
    ),
]
