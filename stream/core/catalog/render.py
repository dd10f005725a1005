"""The catalog as Markdown or as an HTML fragment."""

from __future__ import annotations

from html import escape

from stream.core.catalog.english import goal
from stream.core.catalog.entries import Entry


def _fields(entry: Entry) -> list[tuple[str, str]]:
    """(label, text) rows of one entry, leaving out what is not set."""
    s, reads = entry.segment, entry.reads
    rows = [
        ("Name", s.name or ""),
        ("Description", s.description or ""),
        ("Persona", s.persona or ""),
        ("Owner", s.owner or ""),
        ("Tags", ", ".join(s.tags)),
        ("Members when", entry.criteria),
        ("Traits read", ", ".join(reads.traits)),
        ("Event types read", ", ".join(reads.events)),
        ("Event properties read", ", ".join(reads.properties)),
        ("Scores read", ", ".join(reads.scores)),
        ("Reads the lifecycle stage", "yes" if reads.stage else ""),
        ("Refers to", ", ".join(entry.refers_to)),
        ("Referred to by", ", ".join(entry.referred_by)),
        ("Holdout", f"{s.holdout:.0%}" if s.holdout else ""),
        ("Goal", goal(s.goal) if s.goal is not None else ""),
    ]
    if entry.size is not None:
        rows.append(("Live size", f"{entry.size:,} ({entry.held_out or 0:,} held out)"))
    return [(label, text) for label, text in rows if text]


def markdown(entries: list[Entry], title: str = "Segment catalog") -> str:
    """The catalog as a Markdown document: one section per segment."""
    lines = [f"# {title}", ""]
    lines += [f"- [{e.segment.id}](#{e.segment.id})" for e in entries]
    for entry in entries:
        lines += ["", f"## {entry.segment.id}", "", "| | |", "| --- | --- |"]
        lines += [f"| {label} | {_cell(text)} |" for label, text in _fields(entry)]
    return "\n".join(lines) + "\n"


def html(entries: list[Entry]) -> str:
    """The catalog as an HTML fragment: one definition list per segment."""
    parts = []
    for entry in entries:
        sid = escape(entry.segment.id)
        rows = "".join(
            f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>" for label, text in _fields(entry)
        )
        parts.append(f'<section id="seg-{sid}"><h2>{sid}</h2><dl>{rows}</dl></section>')
    return "\n".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
