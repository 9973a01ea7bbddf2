"""fdm.conf parsed the way fdm 2.x reads it: macros expanded at parse time, every node with its line.

The lexer follows fdm's own (lex.c): `"…"` strings take `\\X` escapes and `${name}`/`%{name}` macros,
`'…'` strings are literal, `$name`/`%name` outside strings are macro references (an undefined one is an
error), `+` concatenates strings. `include` reads the file as fdm does. What the console cannot evaluate (`$(cmd)`, `%(cmd)`) is
kept in `Config.unsupported` and reported by the linter, never silently ignored.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path

from console.errors import UserError


class FdmSyntaxError(UserError):
    """A config fdm would refuse: reads like fdm's own `FILE: MESSAGE at line N`."""

    exit_code = 2

    def __init__(self, path: str, message: str, line: int) -> None:
        super().__init__(f"{path}: {message} at line {line}")
        self.path = path
        self.reason = message
        self.line = line


# fdm's keyword table (lex.c): any other bare word is "unknown token".
KEYWORDS = frozenset(
    """
B G GB K KB M MB account accounts action actions add-header add-to-cache age all allow-multiple
and any-name any-size any-type append attachment b body byte bytes cache case command-user compress
continue count day days default-user delete-oversized disabled domain domains dotlock drop exec
expire fcntl file-group file-umask flock folder folders from g gb gigabyte gigabytes group groups
header headers hour hours ignore-errors imap imaps in in-cache invalid k kb keep key kilobyte
kilobytes lock-file lock-timeout lock-type lock-types lock-wait lookup-order m maildir maildirs
match matched maximum-size mb mbox mboxes megabyte megabytes minute minutes month months new-only
nntp nntps no-apop no-cram-md5 no-create no-login no-received no-tls1 no-uidl no-verify none not
old-only or parallel-accounts pass passwd pipe pop3 pop3s port proxy purge-after queue-high
queue-low remove-from-cache remove-header remove-headers returns rewrite second seconds server set
size smtp stdin stdout string strip-characters tag tagged timeout to to-cache total-size unmatched
unmatched-mail user users value verify-certificates week weeks write year years
""".split()
)

SIZE_UNITS = {
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "k": 1024,
    "kb": 1024,
    "kilobyte": 1024,
    "kilobytes": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "megabyte": 1024**2,
    "megabytes": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gigabyte": 1024**3,
    "gigabytes": 1024**3,
}
TIME_UNITS = {
    "second": 1,
    "seconds": 1,
    "minute": 60,
    "minutes": 60,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
    "week": 604800,
    "weeks": 604800,
    "month": 2419200,
    "months": 2419200,
    "year": 29030400,
    "years": 29030400,
}
FETCH_TYPES = frozenset(
    "stdin pop3 pop3s imap imaps nntp nntps maildir maildirs mbox mboxes".split()
)
# Action items that hand the mail (or a command) to the outside world.
EXTERNAL_ITEMS = frozenset("pipe exec maildir mbox write append rewrite smtp stdout".split())
STATEMENT_STARTS = frozenset({"set", "account", "action", "match", "include", "cache"})


@dataclass
class Token:
    """One lexical token: kind is word, string, number, macro, command or a punctuation character."""

    kind: str
    value: str
    line: int
    start: int
    end: int
    raw: str = ""
    """For strings: the source text between the quotes (the linter inspects escapes in it)."""
    quote: str = ""


@dataclass
class Unsupported:
    """A construct the console does not evaluate (`$(cmd)`, `include`): reported, never ignored."""

    line: int
    what: str


@dataclass
class MacroUse:
    """A `${name}` or `%{name}` inside a string, and whether it was defined at that point."""

    name: str
    line: int
    defined: bool


@dataclass
class ActionItem:
    """One thing an action does: `pipe "cmd"`, `maildir "path"`, `drop`, `action "other"`..."""

    kind: str
    args: list[str]
    line: int
    span: tuple[int, int]
    """Source offsets of the item (the differential test splices recorders in here)."""
    raw_args: list[str] = field(default_factory=list)


@dataclass
class ActionDef:
    """`action "name" [users] item` or `{ item ... }`: named, looked up at run time by pattern."""

    name: str
    items: list[ActionItem]
    users: list[str]
    line: int


@dataclass
class Condition:
    """One condition of a rule, with its `and`/`or` joiner (None for the first) and `not`."""

    kind: str
    line: int
    op: str | None = None
    negated: bool = False
    regex: str = ""
    """For regexp and string conditions: the regex after escapes, macros and parse-time tags."""
    raw_regex: str = ""
    """The regex as written between the quotes (for the linter's escape checks)."""
    case: bool = False
    area: str = "any"
    values: list[str] = field(default_factory=list)
    compare: str = ""
    number: int = 0


@dataclass
class Rule:
    """`match …`: conditions, then named actions, inline actions or nested rules; `continue` or not."""

    line: int
    index: int
    """fdm's rule number (pre-order, from 0), as `fdm -vv` prints `matched to rule N`."""
    conditions: list[Condition]
    action_names: list[str] = field(default_factory=list)
    inline: list[ActionItem] | None = None
    users: list[str] = field(default_factory=list)
    cont: bool = False
    children: list[Rule] | None = None
    end_line: int = 0


@dataclass
class Account:
    """`account "name" [disabled] TYPE …`: only its name and type matter to routing."""

    name: str
    fetch: str
    disabled: bool
    line: int
    keep: bool = False


@dataclass
class Config:
    """A parsed fdm.conf."""

    path: str
    text: str
    options: dict[str, list[str]] = field(default_factory=dict)
    option_lines: dict[str, int] = field(default_factory=dict)
    accounts: list[Account] = field(default_factory=list)
    actions: list[ActionDef] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    macros: dict[str, str] = field(default_factory=dict)
    macro_lines: dict[str, int] = field(default_factory=dict)
    macro_uses: list[MacroUse] = field(default_factory=list)
    unsupported: list[Unsupported] = field(default_factory=list)
    caches: list[str] = field(default_factory=list)
    """Paths of the `cache` files the config declares."""
    includes: list[tuple[int, str]] = field(default_factory=list)
    """(line of the `include`, file read) for every included file; what they define is merged in
    (their lines and spans are their own file's)."""

    def all_rules(self) -> list[Rule]:
        """Every rule, nested ones included, in fdm's numbering order."""
        out: list[Rule] = []

        def walk(rules: list[Rule]) -> None:
            for rule in rules:
                out.append(rule)
                if rule.children is not None:
                    walk(rule.children)

        walk(self.rules)
        return out

    @property
    def unmatched_mail(self) -> str:
        """`keep` (fdm's default, with a warning) or `drop`."""
        return (self.options.get("unmatched-mail") or ["keep"])[0]


def time_tags(tm: time.struct_time, prefix: str = "") -> dict[str, str]:
    """fdm's clock tags (hour, day, year2...) for a time, names prefixed (`mail_` for the Date), as
    replace.c's default_tags fills them: struct tm counts days of the year from 0, fdm adds 1."""
    values = {
        "hour": f"{tm.tm_hour:02d}",
        "minute": f"{tm.tm_min:02d}",
        "second": f"{tm.tm_sec:02d}",
        "day": f"{tm.tm_mday:02d}",
        "month": f"{tm.tm_mon:02d}",
        "year": f"{tm.tm_year:04d}",
        "year2": f"{tm.tm_year % 100:02d}",
        "dayofweek": str((tm.tm_wday + 1) % 7),
        "dayofyear": f"{tm.tm_yday:02d}",
        "quarter": str((tm.tm_mon - 1) // 3 + 1),
        "rfc822date": time.strftime("%a, %d %b %Y %H:%M:%S %z", tm),
    }
    return {prefix + key: value for key, value in values.items()}


def parse_tags_now(now: float | None = None, home: str = "") -> dict[str, str]:
    """The tags fdm knows at parse time (home and the clock): substituted into regexes."""
    return {"home": home, **time_tags(time.localtime(now if now is not None else time.time()))}


# fdm's one-letter tag aliases (%a is %[account], %1 the first capture...).
TAG_ALIASES = {
    "a": "account",
    "h": "home",
    "n": "uid",
    "t": "action",
    "u": "user",
    "H": "hour",
    "M": "minute",
    "S": "second",
    "d": "day",
    "m": "month",
    "y": "year",
    "W": "dayofweek",
    "Y": "dayofyear",
    "Q": "quarter",
}


def replace_tags(text: str, tags: dict[str, str], strip: str | None = None) -> str:
    """Expand `%[name]`, `%X` and `%%` the way fdm does (replace.c); unknown tags become empty.

    `strip` lists characters removed from tag values (strip-characters); `%[:name]` and `%:1` turn
    stripping off, for the rest of the string as in fdm.
    """
    if "%" not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        percent = text.find("%", i)
        if percent == -1:
            out.append(text[i:])
            break
        if percent > i:
            out.append(text[i:percent])  # the plain text up to the next `%`, in one piece
            i = percent
        if i + 1 >= n:
            break
        nxt = text[i + 1]
        if nxt == "%":
            out.append("%")
            i += 2
            continue
        if nxt == "[":
            close = text.find("]", i + 2)
            if close == -1:
                out.append("%[")
                i += 2
                continue
            name = text[i + 2 : close]
            if name.startswith(":"):
                name = name[1:]
                strip = None
            i = close + 1
        elif nxt == ":":
            following = text[i + 2 : i + 3]
            i += 3
            if not following.isdigit():
                out.append(following)
                continue
            name = following
            strip = None
        else:
            name = TAG_ALIASES.get(nxt, nxt if nxt.isdigit() else "")
            i += 2
        value = tags.get(name, "") if name else ""
        if strip:
            value = value.translate(_deletion(strip))
        out.append(value)
    return "".join(out)


@functools.lru_cache(maxsize=16)
def _deletion(strip: str) -> dict[int, None]:
    """A str.translate table that deletes every character of `strip`."""
    return dict.fromkeys(map(ord, strip))


class _Lexer:
    """fdm's lexer: tokens with lines and offsets; string escapes and `${}` macros at lex time."""

    def __init__(self, parser: Parser) -> None:
        self.p = parser
        self.text = parser.text
        self.pos = 0
        self.line = 1
        self.ifdef_depth = 0
        self.skip_depth = 0

    def error(self, message: str, line: int | None = None) -> FdmSyntaxError:
        return FdmSyntaxError(self.p.path, message, line if line is not None else self.line)

    def next(self) -> Token | None:
        while True:
            tok = self._next_raw()
            if tok is None:
                if self.ifdef_depth:
                    raise self.error("missing endif")
                return None
            if tok.kind == "word" and tok.value in ("ifdef", "ifndef", "endif"):
                # Like fdm, evaluated when lexed (so a macro defined just before is not yet
                # known) and returned as a placeholder that ends the statement before it.
                self._conditional(tok)
                return Token("none", tok.value, tok.line, tok.start, tok.end)
            if self.skip_depth:
                continue
            return tok

    def _conditional(self, tok: Token) -> None:
        if tok.value == "endif":
            if self.ifdef_depth == 0:
                raise self.error("spurious endif")
            self.ifdef_depth -= 1
            if self.skip_depth > self.ifdef_depth:
                self.skip_depth = 0
            return
        name_tok = self._next_raw()
        if name_tok is None or name_tok.kind != "macro":
            raise self.error("syntax error")
        defined = name_tok.value in self.p.macros
        self.ifdef_depth += 1
        wanted = defined if tok.value == "ifdef" else not defined
        if not wanted and not self.skip_depth:
            self.skip_depth = self.ifdef_depth

    def _next_raw(self) -> Token | None:
        text = self.text
        n = len(text)
        while self.pos < n:
            ch = text[self.pos]
            start = self.pos
            if ch == "#":
                end = text.find("\n", self.pos)
                self.pos = n if end == -1 else end
                continue
            if ch == "\n":
                self.line += 1
                self.pos += 1
                continue
            if ch in " \t\r":
                self.pos += 1
                continue
            line = self.line
            if ch in "'\"":
                self.pos += 1
                value, raw = self._string(ch)
                return Token("string", value, line, start, self.pos, raw, ch)
            if ch in "$%":
                nxt = text[self.pos + 1] if self.pos + 1 < n else ""
                if nxt == "(":
                    self.pos += 2
                    body = self._command()
                    self.p.unsupported.append(
                        Unsupported(
                            line, f"{ch}(…) runs a shell command at parse time: {ch}({body})"
                        )
                    )
                    return Token("command", "", line, start, self.pos)
                if nxt == "{" or nxt.isalnum():
                    self.pos += 1
                    name = self._macro_name(ch)
                    return Token("macro", name, line, start, self.pos)
                raise self.error("invalid macro name")
            if ch == "=" and text.startswith("==", self.pos):
                self.pos += 2
                return Token("==", "==", line, start, self.pos)
            if ch == "!" and text.startswith("!=", self.pos):
                self.pos += 2
                return Token("!=", "!=", line, start, self.pos)
            if ch in "=!~+(),<>{}*":
                self.pos += 1
                return Token(ch, ch, line, start, self.pos)
            if ch.isalnum() or ch in "_-":
                if ch.isdigit():
                    end = self.pos
                    while end < n and text[end].isdigit():
                        end += 1
                    self.pos = end
                    return Token("number", text[start:end], line, start, end)
                end = self.pos
                while end < n and (text[end].isalnum() or text[end] in "-_"):
                    end += 1
                self.pos = end
                word = text[start:end]
                if word in ("ifdef", "ifndef", "endif", "include"):
                    return Token("word", word, line, start, end)
                if self.skip_depth:
                    return Token("word", word, line, start, end)
                if word not in KEYWORDS:
                    raise self.error(f"unknown token: {word}")
                return Token("word", word, line, start, end)
            raise self.error(f"unexpected character: {ch}")
        return None

    def _macro_name(self, sigil: str) -> str:
        text = self.text
        brackets = text[self.pos] == "{"
        if brackets:
            self.pos += 1
            if self.pos >= len(text) or not text[self.pos].isalnum():
                raise self.error("invalid macro name")
        end = self.pos
        while end < len(text) and (text[end].isalnum() or text[end] in "-_"):
            end += 1
        name = sigil + text[self.pos : end]
        self.pos = end
        if brackets:
            if self.pos >= len(text) or text[self.pos] != "}":
                raise self.error("missing }")
            self.pos += 1
        return name

    def _command(self) -> str:
        depth = 0
        start = self.pos
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch == "\n":
                self.line += 1
            elif ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0:
                    return self.text[start : self.pos - 1]
                depth -= 1
        raise self.error("missing )")

    def _string(self, quote: str) -> tuple[str, str]:
        text = self.text
        escapes = quote == '"'
        out: list[str] = []
        start = self.pos
        while True:
            if self.pos >= len(text):
                raise self.error(f"missing {quote}")
            ch = text[self.pos]
            self.pos += 1
            if ch == quote:
                return "".join(out), text[start : self.pos - 1]
            if ch == "\n":
                self.line += 1
            if escapes and ch == "\\":
                if self.pos >= len(text):
                    raise self.error(f"missing {quote}")
                ch = text[self.pos]
                self.pos += 1
                if ch == "\n":
                    self.line += 1
                out.append({"r": "\r", "n": "\n", "t": "\t"}.get(ch, ch))
                continue
            if escapes and ch in "$%" and self.pos < len(text) and text[self.pos] == "{":
                line = self.line
                name = self._macro_name(ch)
                defined = name in self.p.macros
                self.p.macro_uses.append(MacroUse(name, line, defined))
                out.append(self.p.macros.get(name, ""))
                continue
            out.append(ch)


class Parser:
    """Recursive descent over fdm's grammar; produces a `Config` or raises FdmSyntaxError."""

    def __init__(
        self,
        text: str,
        path: str,
        defines: dict[str, str] | None = None,
        home: str = "",
        now: float | None = None,
    ) -> None:
        self.text = text
        self.path = path
        self.macros: dict[str, str] = {}
        self.fixed: set[str] = set()
        self.macro_uses: list[MacroUse] = []
        self.unsupported: list[Unsupported] = []
        for name, value in (defines or {}).items():
            self.macros[name] = value
            self.fixed.add(name)
        self.parse_tags = parse_tags_now(now, home)
        self.home, self.now, self.depth = home, now, 0
        self.lexer = _Lexer(self)
        self.look: Token | None = None
        self.prev: Token | None = None
        self.rule_count = 0
        self.config = Config(path=path, text=text)

    # ---- token helpers

    def peek(self) -> Token | None:
        if self.look is None:
            self.look = self.lexer.next()
        return self.look

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise self.error("syntax error")
        self.look = None
        self.prev = tok
        return tok

    def error(self, message: str, tok: Token | None = None) -> FdmSyntaxError:
        line = (
            tok.line
            if tok is not None
            else (self.look.line if self.look is not None else self.lexer.line)
        )
        return FdmSyntaxError(self.path, message, line)

    def at_word(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.value in words

    def at(self, kind: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == kind

    def expect_word(self, *words: str) -> Token:
        tok = self.peek()
        if tok is None or tok.kind != "word" or tok.value not in words:
            raise self.error("syntax error", tok)
        return self.take()

    def expect(self, kind: str) -> Token:
        tok = self.peek()
        if tok is None or tok.kind != kind:
            raise self.error("syntax error", tok)
        return self.take()

    def at_string(self) -> bool:
        tok = self.peek()
        return tok is not None and (
            tok.kind in ("string", "command") or (tok.kind == "macro" and tok.value[0] == "$")
        )

    def strv(self) -> tuple[str, str, Token]:
        """A string value: `"…"`, `'…'`, `$macro`, joined by `+`. Returns (value, raw, first token)."""
        first = self.peek()
        value, raw = self._one_string()
        while self.at("+"):
            self.take()
            more, more_raw = self._one_string()
            value += more
            raw += more_raw
        assert first is not None
        return value, raw, first

    def _one_string(self) -> tuple[str, str]:
        tok = self.take()
        if tok.kind == "string":
            # For '…' strings the raw form is the "…" spelling of the same value, so the linter's
            # escape checks see an escaped backslash, not a lost one.
            return tok.value, tok.raw if tok.quote == '"' else tok.value.replace("\\", "\\\\")
        if tok.kind == "command":
            return "", ""
        if tok.kind == "macro" and tok.value[0] == "$":
            if tok.value not in self.macros:
                raise self.error(f"undefined macro: {tok.value}", tok)
            value = self.macros[tok.value]
            return value, value.replace("\\", "\\\\")
        raise self.error("syntax error", tok)

    def numv(self) -> int:
        tok = self.take()
        if tok.kind == "number":
            return int(tok.value)
        if tok.kind == "command":
            return 0
        if tok.kind == "macro" and tok.value[0] == "%":
            if tok.value not in self.macros:
                raise self.error(f"undefined macro: {tok.value}", tok)
            return int(self.macros[tok.value])
        raise self.error("syntax error", tok)

    def size(self) -> int:
        number = self.numv()
        tok = self.peek()
        if tok is not None and tok.kind == "word" and tok.value.lower() in SIZE_UNITS:
            self.take()
            number *= SIZE_UNITS[tok.value.lower()]
        return number

    def time_value(self) -> int:
        number = self.numv()
        tok = self.peek()
        if tok is not None and tok.kind == "word" and tok.value in TIME_UNITS:
            self.take()
            number *= TIME_UNITS[tok.value]
        return number

    def string_list(self) -> list[str]:
        """`"x"` or `{ "x" "y" }`."""
        if self.at("{"):
            self.take()
            values = []
            while not self.at("}"):
                values.append(self.strv()[0])
            self.take()
            if not values:
                raise self.error("syntax error")
            return values
        return [self.strv()[0]]

    # ---- statements

    def parse(self) -> Config:
        config = self.config
        stack: list[Rule] = []
        while True:
            tok = self.peek()
            if tok is None:
                break
            if tok.kind == "none":
                self.take()
                continue
            if tok.kind == "}":
                if not stack:
                    raise self.error("syntax error", tok)
                self.take()
                stack.pop().end_line = tok.line
                continue
            if tok.kind == "macro":
                self.macro_definition()
                continue
            if tok.kind != "word":
                raise self.error("syntax error", tok)
            if tok.value == "include":
                self.take()
                self.include(self.strv()[0], tok, stack[-1].children if stack else config.rules)  # type: ignore[arg-type]
                continue
            if tok.value == "cache":
                self.take()
                config.caches.append(self.strv()[0])
                if self.at_word("expire"):
                    self.take()
                    self.time_value()
                continue
            if tok.value == "set":
                self.set_option()
            elif tok.value == "account":
                config.accounts.append(self.account())
            elif tok.value == "action":
                action = self.action_definition()
                if any(a.name == action.name for a in config.actions):
                    raise self.error(f"duplicate action: {action.name}", tok)
                config.actions.append(action)
            elif tok.value == "match":
                rule = self.rule()
                (stack[-1].children if stack else config.rules).append(rule)  # type: ignore[union-attr]
                if rule.children is not None:
                    stack.append(rule)
            else:
                raise self.error("syntax error", tok)
        if stack:
            raise FdmSyntaxError(self.path, "missing }", self.lexer.line)
        config.macros = dict(self.macros)
        config.macro_uses = self.macro_uses
        config.unsupported = self.unsupported
        return config

    def include(self, target: str, tok: Token, rules: list[Rule]) -> None:
        """Read an included file as fdm does (as given, else beside the main config) and add what
        it defines: macros carry over both ways, rules continue the numbering."""
        if not target:
            raise self.error("invalid include file", tok)
        candidates = [Path(target)]
        if not Path(target).is_absolute():
            candidates.append(Path(self.path).parent / target)
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise self.error(f"{candidates[-1]}: No such file or directory", tok)
        if self.depth >= 10:
            raise self.error(f"{found}: includes nest too deeply", tok)
        try:
            text = found.read_bytes().decode("utf-8", "surrogateescape")
        except OSError as exc:
            raise self.error(f"{found}: {exc.strerror}", tok) from None
        sub = Parser(text, str(found), home=self.home, now=self.now)
        sub.macros, sub.fixed, sub.macro_uses = self.macros, self.fixed, self.macro_uses
        sub.unsupported, sub.rule_count, sub.depth = (
            self.unsupported,
            self.rule_count,
            self.depth + 1,
        )
        included = sub.parse()
        self.rule_count = sub.rule_count
        config = self.config
        for action in included.actions:
            if any(a.name == action.name for a in config.actions):
                raise self.error(f"duplicate action: {action.name}", tok)
            config.actions.append(action)
        config.accounts += included.accounts
        rules += included.rules
        config.options.update(included.options)
        config.caches += included.caches
        config.includes.append((tok.line, str(found)))
        config.includes += included.includes

    def macro_definition(self) -> None:
        name_tok = self.take()
        self.expect("=")
        name = name_tok.value
        if name[0] == "$":
            value = self.strv()[0]
        else:
            value = str(self.numv())
        if name not in self.fixed:
            self.macros[name] = value
            self.config.macro_lines.setdefault(name, name_tok.line)

    def set_option(self) -> None:
        set_tok = self.take()
        tok = self.take()
        if tok.kind != "word":
            raise self.error("syntax error", tok)
        name = tok.value
        values: list[str] = []
        if name == "unmatched-mail":
            values = [self.expect_word("keep", "drop").value]
        elif name in ("maximum-size",):
            values = [str(self.size())]
        elif name in ("timeout", "lock-timeout"):
            values = [str(self.time_value())]
        elif name in ("queue-high", "queue-low"):
            values = [str(self.numv())]
        elif name == "purge-after":
            values = ["none"] if self.at_word("none") and self.take() else [str(self.numv())]
        elif name in ("lock-file", "proxy", "strip-characters"):
            values = [self.strv()[0]]
        elif name in (
            "delete-oversized",
            "allow-multiple",
            "no-received",
            "no-create",
            "verify-certificates",
            "ignore-errors",
            "lock-wait",
            "parallel-accounts",
        ):
            values = []
        elif name in ("default-user", "command-user"):
            values = [self.strv()[0] if self.at_string() else str(self.numv())]
        elif name in ("file-umask", "file-group"):
            if self.at_word("user"):
                values = [self.take().value]
            else:
                values = [self.strv()[0] if self.at_string() else self.take().value]
        elif name in ("lock-types", "lookup-order"):
            while self.at_word("fcntl", "flock", "dotlock", "passwd", "courier"):
                values.append(self.take().value)
            if not values:
                raise self.error("syntax error")
        elif name in ("domain", "header"):
            values = [self.strv()[0]]
        elif name in ("domains", "headers"):
            values = self.string_list()
        else:
            raise self.error("syntax error", tok)
        self.config.options[name] = values
        self.config.option_lines[name] = set_tok.line

    def users(self) -> list[str]:
        if self.at_word("user"):
            self.take()
            return [self.strv()[0] if self.at_string() else str(self.numv())]
        if self.at_word("users"):
            self.take()
            return self.string_list()
        return []

    def account(self) -> Account:
        tok = self.take()
        name = self.strv()[0]
        disabled = False
        if self.at_word("disabled"):
            self.take()
            disabled = True
        self.users()
        fetch = self.peek()
        if fetch is None or fetch.kind != "word" or fetch.value not in FETCH_TYPES:
            raise self.error("syntax error", fetch)
        self.take()
        account = Account(name, fetch.value, disabled, tok.line)
        if fetch.value != "stdin":
            self.unsupported.append(
                Unsupported(
                    tok.line,
                    f'account "{name}" fetches with {fetch.value}: only stdin mail is routed',
                )
            )
        # Fetch options: consume until the next statement.
        while True:
            nxt = self.peek()
            if (
                nxt is None
                or nxt.kind == "}"
                or (nxt.kind == "word" and nxt.value in STATEMENT_STARTS)
            ):
                break
            if nxt.kind == "macro" and self._definition_follows():
                break
            if nxt.kind == "word" and nxt.value == "keep":
                account.keep = True
            self.take()
        return account

    def action_definition(self) -> ActionDef:
        tok = self.take()
        name = self.strv()[0]
        if not name:
            raise self.error("invalid action name", tok)
        users = self.users()
        items = self.action_body()
        return ActionDef(name, items, users, tok.line)

    def action_body(self) -> list[ActionItem]:
        if self.at("{"):
            self.take()
            items = []
            while not self.at("}"):
                if self.peek() is None:
                    raise self.error("syntax error")
                items.append(self.action_item())
            self.take()
            if not items:
                raise self.error("syntax error")
            return items
        return [self.action_item()]

    def action_item(self) -> ActionItem:
        tok = self.take()
        if tok.kind != "word":
            raise self.error("syntax error", tok)
        kind = tok.value
        args: list[str] = []
        raws: list[str] = []

        def arg() -> None:
            value, raw, _ = self.strv()
            args.append(value)
            raws.append(raw)

        if kind in ("drop", "keep", "stdout"):
            pass
        elif kind in ("pipe", "exec", "rewrite", "write", "append", "maildir"):
            arg()
        elif kind == "mbox":
            arg()
            if self.at_word("compress"):
                self.take()
                args.append("compress")
        elif kind == "tag":
            arg()
            if self.at_word("value"):
                self.take()
                arg()
        elif kind == "add-header":
            arg()
            if self.at_word("value"):
                self.take()
            arg()
        elif kind == "remove-header":
            arg()
        elif kind == "remove-headers":
            args = self.string_list()
        elif kind == "action":
            args = [self.strv()[0]]
        elif kind == "actions":
            args = self.string_list()
            kind = "action"
        elif kind in ("add-to-cache", "remove-from-cache", "to-cache"):
            arg()
            self.expect_word("key")
            arg()
            kind = "add-to-cache" if kind == "to-cache" else kind
        elif kind == "smtp":
            self.expect_word("server")
            arg()
            while self.at_word("port", "from", "to"):
                self.take()
                if self.at_string():
                    arg()
                else:
                    args.append(str(self.numv()))
        else:
            raise self.error("syntax error", tok)
        end = self.prev.end if self.prev is not None else tok.end
        return ActionItem(kind, args, tok.line, (tok.start, end), raws)

    # ---- rules

    def rule(self) -> Rule:
        tok = self.take()
        rule = Rule(line=tok.line, index=self.rule_count, conditions=[])
        self.rule_count += 1
        rule.conditions.append(self.condition(None))
        while self.at_word("and", "or"):
            op = self.take().value
            rule.conditions.append(self.condition(op))
        rule.users = self.users()
        if self.at("{"):
            self.take()
            rule.children = []
            return rule
        kw = self.expect_word("action", "actions")
        if kw.value == "actions":
            rule.action_names = self.string_list()
        elif self.at_string() or self.at("{") and self._named_list_follows():
            rule.action_names = self.string_list()
        else:
            rule.inline = self.action_body()
        if self.at_word("continue"):
            self.take()
            rule.cont = True
        return rule

    def _named_list_follows(self) -> bool:
        """After `action {`: a list of names (strings, macros) or inline items (keywords)?"""
        return self._next_char() in "\"'$"

    def _definition_follows(self) -> bool:
        """Is the macro token just peeked the start of `$x = …` (a new statement)?"""
        return self._next_char() == "=" and not self.text.startswith("==", self._next_offset())

    def _next_offset(self) -> int:
        text = self.text
        pos = self.lexer.pos
        while pos < len(text):
            if text[pos] == "#":
                end = text.find("\n", pos)
                pos = len(text) if end == -1 else end
            elif text[pos] in " \t\r\n":
                pos += 1
            else:
                break
        return pos

    def _next_char(self) -> str:
        """The first significant character after the token just peeked."""
        pos = self._next_offset()
        return self.text[pos] if pos < len(self.text) else ""

    def condition(self, op: str | None) -> Condition:
        negated = False
        first = self.peek()
        if first is None:
            raise self.error("syntax error")
        if self.at_word("not"):
            self.take()
            negated = True
        cond = self.base_condition()
        cond.op = op
        cond.negated = negated
        cond.line = first.line
        return cond

    def regex_value(self) -> tuple[str, str]:
        value, raw, _ = self.strv()
        return replace_tags(value, self.parse_tags), raw

    def base_condition(self) -> Condition:
        tok = self.peek()
        assert tok is not None
        if tok.kind == "word" and tok.value in ("all", "matched", "unmatched"):
            self.take()
            return Condition(tok.value, tok.line)
        if tok.kind == "word" and tok.value in ("account", "accounts"):
            self.take()
            values = self.string_list() if tok.value == "accounts" else [self.strv()[0]]
            return Condition("account", tok.line, values=values)
        if tok.kind == "word" and tok.value == "tagged":
            self.take()
            return Condition("tagged", tok.line, values=[self.strv()[0]])
        if tok.kind == "word" and tok.value in ("size", "age"):
            self.take()
            if tok.value == "age" and self.at_word("invalid"):
                self.take()
                return Condition("age", tok.line, compare="invalid")
            cmp_tok = self.take()
            if cmp_tok.kind not in ("<", ">"):
                raise self.error("syntax error", cmp_tok)
            number = self.size() if tok.value == "size" else self.time_value()
            return Condition(tok.value, tok.line, compare=cmp_tok.kind, number=number)
        if tok.kind == "word" and tok.value == "string":
            self.take()
            subject = self.strv()[0]
            self.expect_word("to")
            case = False
            if self.at_word("case"):
                self.take()
                case = True
            regex, raw = self.regex_value()
            return Condition(
                "string", tok.line, regex=regex, raw_regex=raw, case=case, values=[subject]
            )
        if tok.kind == "word" and tok.value in ("exec", "pipe"):
            self.take()
            command = self.strv()[0]
            self.users()
            self.expect_word("returns")
            self.expect("(")
            code = ""
            if not self.at(","):
                code = str(self.numv())
            self.expect(",")
            case = False
            regex = raw = ""
            if not self.at(")"):
                if self.at_word("case"):
                    self.take()
                    case = True
                regex, raw = self.regex_value()
            self.expect(")")
            self.unsupported.append(
                Unsupported(
                    tok.line, f'{tok.value} condition runs "{command}": its result is not predicted'
                )
            )
            return Condition(
                tok.value, tok.line, regex=regex, raw_regex=raw, case=case, values=[command, code]
            )
        if tok.kind == "word" and tok.value in ("attachment", "in-cache"):
            self.take()
            parts: list[str] = []
            while (
                not self.at_word("and", "or", "action", "actions", "user", "users")
                and not self.at("{")
                and self.peek() is not None
            ):
                part = self.take()
                parts.append(part.value)
            self.unsupported.append(
                Unsupported(tok.line, f"{tok.value} condition is not evaluated by the console")
            )
            return Condition(tok.value, tok.line, values=parts)
        case = False
        if tok.kind == "word" and tok.value == "case":
            self.take()
            case = True
        if not self.at_string():
            raise self.error("syntax error", self.peek())
        regex, raw = self.regex_value()
        area = "any"
        if self.at_word("in"):
            self.take()
            area = self.expect_word("headers", "body").value
        return Condition("regexp", tok.line, regex=regex, raw_regex=raw, case=case, area=area)


def parse(
    text: str,
    path: str = "fdm.conf",
    defines: dict[str, str] | None = None,
    home: str = "",
    now: float | None = None,
) -> Config:
    """Parse fdm.conf text; raise FdmSyntaxError (`PATH: MESSAGE at line N`) where fdm would."""
    return Parser(text, path, defines, home, now).parse()


def parse_file(path: Path | str, defines: dict[str, str] | None = None) -> Config:
    """Read and parse a config file; a missing or unreadable file is one sentence."""
    from console.files import read_regular  # here: the console's start-up does without it

    path = Path(path)
    try:
        data = read_regular(path)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    return parse(
        data.decode("utf-8", errors="surrogateescape"), str(path), defines, home=str(Path.home())
    )
