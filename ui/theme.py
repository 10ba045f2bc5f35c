"""Look and feel: a Gradio theme that needs no network (bundled fonts only) and the CSS for
kbassist's own HTML (chips, badges, the roadmap board, tables)."""

from __future__ import annotations

from typing import Any


def make_theme() -> Any:
    import gradio as gr
    from gradio.themes.utils import fonts

    return gr.themes.Soft(
        primary_hue="indigo",
        secondary_hue="sky",
        neutral_hue="slate",
        font=[fonts.LocalFont("IBM Plex Sans", weights=(400, 600)), "ui-sans-serif",
              "system-ui", "sans-serif"],
        font_mono=[fonts.LocalFont("IBM Plex Mono", weights=(400, 600)), "ui-monospace",
                   "monospace"],
    )


CSS = """
.gradio-container { max-width: 1320px !important; margin: 0 auto !important; }
footer { opacity: .7; }

/* header */
.kb-header { display: flex; align-items: center; justify-content: space-between; gap: 16px;
  flex-wrap: wrap; padding: 14px 18px; border-radius: 14px;
  background: linear-gradient(120deg, #312e81 0%, #4338ca 55%, #0369a1 100%); color: #fff; }
.kb-header h1 { margin: 0; font-size: 1.45rem; font-weight: 600; color: #fff; }
.kb-header .kb-sub { margin: 2px 0 0 !important; font-size: .9rem; color: #e0e7ff !important; }
.kb-header .kb-meta { display: flex; gap: 8px; flex-wrap: wrap; }
.kb-header .kb-pill { background: rgba(255,255,255,.16); border: 1px solid rgba(255,255,255,.3);
  border-radius: 999px; padding: 3px 10px; font-size: .8rem; color: #fff; white-space: nowrap; }
.kb-header code { background: transparent; color: #fff; font-size: .8rem; padding: 0; }

/* chips */
.kb-chip { display: inline-block; border-radius: 999px; padding: 1px 9px; font-size: .74rem;
  font-weight: 600; line-height: 1.5; letter-spacing: .02em; border: 1px solid transparent;
  vertical-align: baseline; white-space: nowrap; }
.kb-chip.now { background: #dcfce7; color: #166534; border-color: #86efac; }
.kb-chip.next { background: #dbeafe; color: #1e40af; border-color: #93c5fd; }
.kb-chip.later { background: #fef3c7; color: #92400e; border-color: #fcd34d; }
.kb-chip.never { background: #f1f5f9; color: #475569; border-color: #cbd5e1; }
.kb-chip.claim { background: #e0e7ff; color: #3730a3; }
.kb-chip.roadmap { background: #f5f3ff; color: #5b21b6; }
.kb-chip.messaging { background: #fae8ff; color: #86198f; }
.kb-chip.reference { background: #e0f2fe; color: #075985; }
.kb-chip.icp { background: #ccfbf1; color: #115e59; }
.kb-chip.pass, .kb-chip.fit { background: #dcfce7; color: #166534; border-color: #86efac; }
.kb-chip.revised, .kb-chip.partial, .kb-chip.warning { background: #fef3c7; color: #92400e;
  border-color: #fcd34d; }
.kb-chip.blocked, .kb-chip.no-fit, .kb-chip.error, .kb-chip.expired { background: #fee2e2;
  color: #991b1b; border-color: #fca5a5; }
.kb-chip.expiring { background: #ffedd5; color: #9a3412; border-color: #fdba74; }
.kb-chip.muted { background: #f1f5f9; color: #475569; }

/* chat: copy and thumbs belong to the answer, not to its badge or sources */
#ask-chat .message-row:has(.thought-group) + .message-buttons-left,
#ask-chat .message-row:has(.kb-sources) + .message-buttons-left,
#ask-chat .user-row + .message-buttons-right { display: none !important; }
#ask-chat .message-row:has(.kb-sources) .message { background: transparent; border: none;
  box-shadow: none; padding-top: 0; }

/* citations */
.kb-sources { display: flex; flex-direction: column; gap: 6px; }
.kb-sources .kb-label { font-size: .75rem; text-transform: uppercase; letter-spacing: .06em;
  color: #64748b; font-weight: 600; }
details.kb-cite { border: 1px solid #e2e8f0; border-radius: 10px; padding: 6px 10px;
  background: #fff; }
details.kb-cite > summary { cursor: pointer; list-style: none; display: flex; gap: 8px;
  align-items: center; flex-wrap: wrap; }
details.kb-cite > summary::-webkit-details-marker { display: none; }
details.kb-cite > summary::after { content: "▸"; margin-left: auto; color: #94a3b8; }
details.kb-cite[open] > summary::after { content: "▾"; }
details.kb-cite .kb-ref { font-family: var(--font-mono); font-size: .8rem; color: #334155; }
details.kb-cite .kb-title { font-size: .85rem; color: #475569; }
.kb-passage { margin-top: 8px; border-left: 3px solid #c7d2fe; padding: 4px 10px;
  background: #f8fafc; border-radius: 0 8px 8px 0; font-size: .88rem; white-space: pre-wrap; }
.kb-where { margin-top: 6px; font-family: var(--font-mono); font-size: .75rem; color: #64748b; }

/* governance */
.kb-checks ul { margin: 4px 0 0 18px; padding: 0; }
.kb-checks li { margin: 2px 0; }
.kb-rule { font-family: var(--font-mono); font-size: .78rem; background: #f1f5f9;
  border-radius: 4px; padding: 0 4px; }
.kb-panel { border: 1px solid #e2e8f0; border-radius: 12px; padding: 12px 14px; background: #fff; }
.kb-panel h3 { margin: 0 0 8px; font-size: 1rem; }
.kb-muted { color: #64748b; font-size: .85rem; }
.kb-panel.kb-error { border-color: #fca5a5; background: #fef2f2; color: #991b1b; }

/* roadmap board */
.kb-board { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 12px; }
.kb-col { background: #f8fafc; border: 1px solid #e2e8f0; border-radius: 12px; padding: 10px; }
.kb-col h3 { margin: 0 0 8px; display: flex; gap: 8px; align-items: center; font-size: .95rem; }
.kb-col h3 .kb-count { color: #64748b; font-weight: 400; font-size: .8rem; }
.kb-card { background: #fff; border: 1px solid #e2e8f0; border-radius: 10px; padding: 8px 10px;
  margin-bottom: 8px; box-shadow: 0 1px 2px rgba(15,23,42,.05); }
.kb-card .kb-card-title { font-weight: 600; font-size: .9rem; }
.kb-card .kb-card-id { font-family: var(--font-mono); font-size: .72rem; color: #94a3b8; }
.kb-card p { margin: 6px 0 0; font-size: .84rem; color: #334155; }
.kb-card .kb-aka { font-size: .75rem; color: #64748b; margin-top: 4px; }
@media (max-width: 900px) { .kb-board { grid-template-columns: repeat(2, minmax(0, 1fr)); } }

/* tables */
table.kb-table { width: 100%; border-collapse: collapse; font-size: .86rem; margin: 0 !important;
  border: none !important; }
table.kb-table tr, table.kb-table th, table.kb-table td { border-left: none !important;
  border-right: none !important; border-top: none !important; }
table.kb-table th { text-align: left; font-weight: 600; color: #475569; background: #f8fafc;
  border-bottom: 1px solid #e2e8f0; padding: 6px 8px; position: sticky; top: 0; }
table.kb-table td { border-bottom: 1px solid #f1f5f9; padding: 6px 8px; vertical-align: top; }
table.kb-table td.kb-id { font-family: var(--font-mono); font-size: .78rem; color: #334155;
  white-space: nowrap; }
.kb-scroll { max-height: 560px; overflow: auto; border: 1px solid #e2e8f0; border-radius: 12px; }

/* stats */
.kb-stats { display: flex; gap: 10px; flex-wrap: wrap; }
.kb-stat { border: 1px solid #e2e8f0; border-radius: 12px; padding: 8px 14px; background: #fff;
  min-width: 110px; }
.kb-stat b { display: block; font-size: 1.3rem; }
.kb-stat span { font-size: .78rem; color: #64748b; }

/* rfp preview: readable text, not a code font */
#rfp-preview { --font-mono: var(--font); font-size: .85rem; }

/* fit */
.kb-verdict { display: flex; align-items: center; gap: 12px; font-size: 1.1rem; }
.kb-verdict .kb-chip { font-size: .95rem; padding: 3px 14px; }
"""
