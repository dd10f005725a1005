"""The metric names a PromQL expression reads, by a small tokenizer (no promtool prints them).

The tokenizer knows just enough PromQL to tell a metric name from everything else that looks
like a word:
- string literals, label matchers `{...}`, and range or subquery brackets `[...]` (where
  Grafana's `$__rate_interval` goes) are skipped whole;
- a word followed by `(` is a function or an aggregation (`rate(`, `sum(`), and so is one
  followed by `by` or `without` (`sum by (job) (...)`);
- the parenthesised label lists after `by`, `without`, `on`, `ignoring`, `group_left` and
  `group_right` are labels, not metrics;
- the binary operators and modifiers written as words (`and`, `or`, `unless`, `bool`,
  `offset`, ...) and numbers (`0.99`, `1e3`, `Inf`, `NaN`) are not metrics;
- a Grafana variable (`$job`) is not a metric.
Every other word is a metric name. A histogram's `_bucket`, `_sum` and `_count` series count
as the histogram's name (`base_name`).
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""(?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
      |(?P<open>[{\[(])|(?P<close>[}\])])
      |(?P<variable>\$\{?\w+\}?)
      |(?P<number>(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)(?:[a-z]+\d*)*)
      |(?P<word>[a-zA-Z_:][a-zA-Z0-9_:]*)
      |(?P<other>\S)""",
    re.VERBOSE,
)
_LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end"}
_HISTOGRAM_PARTS = ("_bucket", "_count", "_sum")


def _tokens(expr: str) -> list[tuple[str, str]]:
    return [
        (str(m.lastgroup), m.group())
        for m in _TOKEN.finditer(expr)
        if m.lastgroup not in (None, "string", "variable", "number")
    ]


_CLOSING = {"{": "}", "[": "]", "(": ")"}


def _skip_group(tokens: list[tuple[str, str]], at: int) -> int:
    """The index after the bracket group that opens at `at`."""
    expected: list[str] = []
    for i in range(at, len(tokens)):
        kind, text = tokens[i]
        if kind == "open":
            expected.append(_CLOSING[text])
        elif kind == "close":
            if not expected or expected.pop() != text:
                break
            if not expected:
                return i + 1
    raise ValueError("unbalanced brackets")


def metric_names(expr: str) -> set[str]:
    """The names of the series `expr` selects, as written (a histogram's `_bucket` too)."""
    tokens = _tokens(expr)
    _skip_group([("open", "("), *tokens, ("close", ")")], 0)  # the brackets balance
    names: set[str] = set()
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if kind == "open" and text in "{[":
            i = _skip_group(tokens, i)
            continue
        if kind == "word" and text in _LABEL_LISTS and following == "(":
            i = _skip_group(tokens, i + 1)
            continue
        called = following == "(" or following in ("by", "without")
        if kind == "word" and not called and text.lower() not in _KEYWORDS:
            names.add(text)
        i += 1
    return names


def base_name(name: str) -> str:
    """A histogram series' family name (`x_bucket` -> `x`); other names unchanged."""
    return next((name.removesuffix(p) for p in _HISTOGRAM_PARTS if name.endswith(p)), name)


def families(expr: str) -> set[str]:
    """The metric families `expr` reads: `metric_names` with histogram parts folded."""
    return {base_name(n) for n in metric_names(expr)}
