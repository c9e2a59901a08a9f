"""Campaign codes the NGO declared in content/campaigns.yaml (deep links `?start=--<code>`).

Only a declared code is counted by name; any other deep-link source counts as "other", so a
phone number or a name typed into a link never becomes a statistic. The file is optional: with
none, every source is "other".

    - code: osh_bus_2026
      note: "Posters in Osh buses, spring 2026"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import yaml

from bot.content.yamlfile import Located, read_yaml

Report = Callable[..., None]  # the loader's reporter: (path, line, message, severity, **values)

# The deep-link grammar's <source> (bot/handlers/start.py), lower case as the bot counts it;
# a digit may not start it, so a phone number can never look like a declared code.
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
OTHER = "other"  # the bucket for every undeclared source; not a code of its own
CAMPAIGN_KEYS = {"code", "note"}


def parse_campaigns(path: str, read: str | Located | None,
                    report: Report) -> Mapping[str, str] | None:
    """Declared code → note; {} when the file is absent, None (problems reported) if broken.
    `read` is the file's text (None: no such file), as bot/content/loader.py gives it."""
    if read is None:
        return {}
    parsed = read_yaml(read) if isinstance(read, str) else read  # no aliases, depth capped
    if isinstance(parsed, Located):
        report(path, parsed.line, parsed.message, "error", **parsed.values)
        return None
    _, node = parsed
    if node is None:
        return {}
    if not isinstance(node, yaml.SequenceNode):
        report(path, node.start_mark.line + 1,
               "campaigns.yaml must be a list of '- code: …' entries", "error")
        return None
    campaigns: dict[str, str] = {}
    ok = True
    for item in node.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            report(path, line, "each campaign must be 'code:' and 'note:'", "error")
            ok = False
            continue
        fields = {str(k.value): v for k, v in item.value if isinstance(k, yaml.ScalarNode)}
        for unknown in sorted(set(fields) - CAMPAIGN_KEYS):
            report(path, fields[unknown].start_mark.line + 1,
                   f"unknown field '{unknown}' (a campaign has only 'code' and 'note')",
                   "warning")
        code_node = fields.get("code")
        note_node = fields.get("note")
        code = code_node.value if isinstance(code_node, yaml.ScalarNode) else None
        note = note_node.value if isinstance(note_node, yaml.ScalarNode) else ""
        where = code_node.start_mark.line + 1 if code_node is not None else line
        if not isinstance(code, str) or not CODE_RE.match(code):
            report(path, where, f"campaign code {code!r} must be 1-32 of a-z, 0-9 and _, "
                   "starting with a letter (it is the part after -- in a deep link)", "error")
            ok = False
        elif code == OTHER:
            report(path, where, "'other' is reserved for undeclared sources", "error")
            ok = False
        elif code in campaigns:
            report(path, where, f"campaign '{code}' is declared twice", "error")
            ok = False
        else:
            if not note.strip():
                report(path, line, f"campaign '{code}' needs a one-line 'note' saying what it "
                       "is", "warning")
            campaigns[code] = note.strip()
    return campaigns if ok else None


def campaign_cell(source: str, campaigns: Mapping[str, str]) -> str:
    """What a start is counted under: "" (no source), a declared code, or "other"."""
    if not source:
        return ""
    return source if source in campaigns else OTHER
