"""``sigopt-hyperopt report … --html out.html``: the dashboard page as one self-contained file.

The same page and script as the live dashboard, with plotly.js, the stylesheet and every search's
data inlined, so the file opens anywhere (no server, no network) and shows the store as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

from .app import STATIC, plotly_js
from .state import DashboardState


def _inline_script(code: str) -> str:
    # "</script" inside a script would end it early; "<\/" means the same inside JS strings and regexes.
    return "<script>" + code.replace("</script", "<\\/script") + "</script>"


def render_html(state: DashboardState) -> str:
    """The page with the current contents of every search in ``state`` (poll it first)."""
    # The running search first: the page opens on the first one unless its address names another.
    first = state.default_experiment()
    keys = sorted(state.experiments(), key=lambda key: key != first)
    searches = [state.changes(key, 0) for key in keys] or [state.changes(None, 0)]
    # "<" as its JSON escape: no text from the store (an error message) can close the script or open a comment.
    data = json.dumps(searches, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    page = (STATIC / "page.html").read_text()
    page = page.replace('<link rel="stylesheet" href="static/dashboard.css">',
                        "<style>" + (STATIC / "dashboard.css").read_text() + "</style>")
    page = page.replace('<script src="static/plotly.min.js"></script>', _inline_script(plotly_js().read_text()))
    page = page.replace('<script src="static/dashboard.js"></script>',
                        _inline_script("window.DASHBOARD_DATA = " + data + ";") + "\n"
                        + _inline_script((STATIC / "dashboard.js").read_text()))
    return page


def write_html(state: DashboardState, path: str | Path) -> Path:
    """Write the report; returns its path."""
    path = Path(path)
    path.write_text(render_html(state), encoding="utf-8")
    return path
