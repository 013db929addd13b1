"""How the docs' fenced blocks are found and what each one is (tests/docsnippets.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docsnippets import SnippetError, blocks, commands, without_comment


def pages(tmp_path: Path, readme: str, **docs: str) -> Path:
    (tmp_path / "doc").mkdir()
    (tmp_path / "README.md").write_text(readme)
    for name, text in docs.items():
        (tmp_path / "doc" / f"{name}.md").write_text(text)
    return tmp_path


def test_a_block_is_what_its_language_says_without_a_marker(tmp_path: Path) -> None:
    root = pages(
        tmp_path, "# r\n\n```sh\nreaper sweep\n```\n\n```ini\n[DEFAULT]\ndebug = true\n```\n"
    )
    found = blocks(root)
    assert [(b.where, b.lang, b.kind, b.text) for b in found] == [
        ("README.md:3", "sh", "run", "reaper sweep\n"),
        ("README.md:7", "ini", "reaper.conf", "[DEFAULT]\ndebug = true\n"),
    ]


def test_a_marker_right_above_the_fence_says_what_it_is_and_which_file(tmp_path: Path) -> None:
    root = pages(
        tmp_path,
        "x\n",
        b="<!-- docs: policy my-policies.yaml -->\n```yaml\npolicies: []\n```\n"
        "<!--docs:exempt: needs systemd on the host-->\n~~~sh\nsystemctl start x\n~~~\n",
    )
    policy, exempt = blocks(root)
    assert (policy.kind, policy.file, policy.line) == ("policy", "my-policies.yaml", 2)
    assert (exempt.kind, exempt.reason, exempt.exempt) == (
        "exempt",
        "needs systemd on the host",
        True,
    )


def test_an_exempt_block_may_be_in_any_language(tmp_path: Path) -> None:
    root = pages(
        tmp_path,
        "<!-- docs: exempt: run by test_x.py against PostgreSQL -->\n```sql\nSELECT 1;\n```\n",
    )
    (only,) = blocks(root)
    assert (only.lang, only.kind, only.reason) == (
        "sql",
        "exempt",
        "run by test_x.py against PostgreSQL",
    )


def test_readme_comes_first_then_the_pages_in_name_order(tmp_path: Path) -> None:
    root = pages(tmp_path, "```text\na\n```\n", z="```text\nz\n```\n", a="```text\nb\n```\n")
    assert [b.path for b in blocks(root)] == ["README.md", "doc/a.md", "doc/z.md"]


def test_a_longer_fence_holds_a_shorter_one(tmp_path: Path) -> None:
    root = pages(tmp_path, "````text\n```sh\nnot a block\n```\n````\n")
    (only,) = blocks(root)
    assert only.text == "```sh\nnot a block\n```\n"


def test_an_indented_code_block_is_not_a_fence(tmp_path: Path) -> None:
    root = pages(tmp_path, "    ```sh\n    rm -rf /\n    ```\n")
    assert blocks(root) == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("```\nls\n```\n", "a fence without a language block is not tested"),
        ("```python\nprint()\n```\n", "a ```python block is not tested"),
        ("```yaml\na: 1\n```\n", "a yaml block needs a marker"),
        ("<!-- docs: exempt -->\n```sh\nls\n```\n", "an exempt block says why"),
        ("<!-- docs: policy -->\n```sh\nls\n```\n", "is not something a sh block can be"),
    ],
)
def test_a_block_the_tests_cannot_check_is_an_error(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(SnippetError, match=error):
        blocks(pages(tmp_path, text))


def test_commands_are_lines_with_continuations_joined_and_comments_left_out() -> None:
    text = "# a comment\nexport A=1   # why\n\nreaper plan \\\n  --project x\n"
    assert commands(text) == ["export A=1   # why", "reaper plan    --project x"]
    assert without_comment("reaper sweep   # owners Keystone no longer knows") == "reaper sweep"
