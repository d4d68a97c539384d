"""The portal's one stylesheet is appended to by every page family: a section that starts
inside another's unclosed block (a merge that dropped a brace) silently applies only in that
block's media query. Each section must start at the top level and every block close."""

from pathlib import Path

STYLESHEET = Path(__file__).resolve().parents[2] / "static" / "css" / "portal.css"


def test_portal_css_sections_start_at_the_top_level_and_blocks_close():
    depth = 0
    for number, line in enumerate(STYLESHEET.read_text().splitlines(), start=1):
        if line.startswith("/* ---"):
            assert depth == 0, f"line {number}: a section starts inside an unclosed block"
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"line {number}: a closing brace too many"
    assert depth == 0, "a block is never closed"
