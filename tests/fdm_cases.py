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
    """The echoes, in order; `{hostname}` is the machine's name (socket.gethostname())."""
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
    Case(
        "a tagged condition expands tags in the name",
        'action "t" tag "stdin_seen"\nmatch all action "t" continue\n'
        'match tagged "%[account]_seen" action exec "echo seen >> OUT"\n',
        "S: x\n\nb\n",
        ["seen"],
    ),
    Case(
        "a string condition with an 8-bit byte matches it",
        'match string "caf\udce9" to "^caf.$" action exec "echo matched >> OUT"\n',
        "S: x\n\nb\n",
        ["matched"],
    ),
    Case(
        "without a header section a headers regex is false and keeps the groups of the last match",
        "set no-received\n"
        'match "^X: (.*)" action exec "echo first=%1 >> OUT" continue\n'
        'match "zzz" in headers action exec "echo never >> OUT" continue\n'
        'match all action exec "echo after=%1 >> OUT"\n',
        "X: val\n",
        ["first=val", "after=val"],
    ),
    Case(
        "a group of a match in body is read at its offsets from the start of the message",
        'set no-received\nmatch "^X: (.*)" in body action exec "echo g=%1 >> OUT"\n',
        "Subject: hello\n\nX: val\n",
        ["g=jec"],
    ),
    Case(
        "the same with fdm's Received header at the top",
        'match "^X: (.*)" in body action exec "echo g=%1 >> OUT"\n',
        "Subject: hello\n\nX: val\n",
        ["g=eiv"],
    ),
    Case(
        "the message-id tag: a later header, spaces before it, a value starting with X",
        'match all action exec "echo m=%[message_id] >> OUT"\n',
        "Subject: s\nMessage-ID: \t XYZ@host\n\nb\n",
        ["m=XYZ@host"],
    ),
    Case(
        "the message-id tag is the first Message-ID header's, in any case",
        'match all action exec "echo m=%[message_id] >> OUT"\n',
        "message-id: <one@x>\nMessage-Id: <two@x>\n\nb\n",
        ["m=one@x"],
    ),
    Case(
        "line counts: no blank line, then a blank first line",
        'match all action exec "echo %[lines] %[header_lines] %[body_lines] >> OUT"\n',
        "A: 1\nB: 2\n",
        ["2 1 0"],
    ),
    Case(
        "line counts: a blank first line",
        'match all action exec "echo %[lines] %[header_lines] %[body_lines] >> OUT"\n',
        "\nbody\nmore\n",
        ["3 0 2"],
    ),
    Case(
        "the host name tag is the machine's name",
        'match all action exec "echo h=%[hostname] >> OUT"\n',
        "S: x\n\nb\n",
        ["h={hostname}"],
    ),
    Case(
        "no Message-ID header: an empty message-id tag",
        'match all action exec "echo m=%[message_id] >> OUT"\n',
        "Subject: hello there\n\nb\n",
        ["m="],
    ),
    Case(
        "line counts: the body starts after the first blank line, not a later one",
        'match all action exec "echo %[lines] %[header_lines] %[body_lines] >> OUT" continue\n'
        'match "^b2$" in headers action exec "echo wrong >> OUT"\n',
        "S: x\n\nb1\n\nb2\n",
        ["5 1 3"],
        kept=True,
    ),
    Case(
        "a line is cut at its first NUL byte",
        'match "^S: (.*)$" action exec "echo s=%1 >> OUT"\n',
        "S: a\0b\0c\n\nbody\n",
        ["s=a"],
    ),
    Case(
        "strip-characters names the characters taken out of tags and groups",
        'set strip-characters "xq"\n'
        'match "^S: (.*)$" action exec "echo s=%1 m=%[message_id] >> OUT"\n',
        "Message-ID: aqz@x\nS: bxqb\n\nbody\n",
        ["s=bb m=az@"],
    ),
    Case(
        "an inline action that names another action runs it in place",
        'action "a" exec "echo a >> OUT"\nmatch all action { action "a" exec "echo b >> OUT" }\n',
        "S: x\n\nb\n",
        ["a", "b"],
    ),
    Case(
        "a Message-ID line in the body is no message-id",
        'match all action exec "echo m=%[message_id] >> OUT"\n',
        "S: x\n\nMessage-ID: <body@x>\n",
        ["m="],
    ),
    Case(
        "an action name with tags inside a named action and inside an inline action",
        'action "to_stdin" exec "echo t >> OUT"\naction "b" action "to_%[account]"\n'
        'match all action "b" continue\nmatch all action { action "to_%a" }\n',
        "S: x\n\nb\n",
        ["t", "t"],
    ),
]
