"""The README's Python snippets run as written against a live hub (only the address and the token differ)."""

from __future__ import annotations

import re
from pathlib import Path

from shieldwall.stix.tlp import TLP
from tests.exchange.test_sharing import share
from tests.support.hub import Hub, indicator, seed_hub
from tests.support.live import LiveServer

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_snippets_run(live_server: LiveServer) -> None:
    hub: Hub = seed_hub(live_server.app.state.database)
    share(live_server, hub, "chirp", indicator("http://readme.example/", TLP.CLEAR))
    snippets = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert snippets
    for snippet in snippets:
        code = snippet.replace("http://127.0.0.1:8000", live_server.url)
        exec(compile(code, "README.md", "exec"), {"TOKEN": hub.tokens["chirp"]})
