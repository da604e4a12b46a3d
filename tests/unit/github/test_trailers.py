"""`github.trailers`: AI co-author trailers of a commit message -> ProdLens tool names."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prodlens.github.trailers import TOOLS, ai_coauthors, coauthor_tool, trailers


def msg(*trailer_lines: str, title: str = "Fix the cache", body: str = "Why it was wrong.") -> str:
    return f"{title}\n\n{body}\n\n" + "\n".join(trailer_lines) + "\n"


# The trailer text each tool writes, as seen in public repositories (see the module docstring for sources).
REAL_TRAILERS = [
    ("Co-Authored-By: Claude <noreply@anthropic.com>", "claude_code"),
    ("Co-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>", "claude_code"),
    ("Co-authored-by: Claude Sonnet 4.6 <noreply@anthropic.com>", "claude_code"),
    ("Co-authored-by: Claude (claude-opus-4-6) <noreply@anthropic.com>", "claude_code"),
    ("Co-authored-by: Claude Opus 4.6 (1M context) <noreply@anthropic.com>", "claude_code"),
    ("Co-authored-by: Claude Code <noreply@anthropic.com>", "claude_code"),
    ("Co-authored-by: Cursor Agent <cursoragent@cursor.com>", "cursor"),
    ("Co-authored-by: Cursor <cursoragent@cursor.com>", "cursor"),
    ("Co-authored-by: Copilot <223556219+Copilot@users.noreply.github.com>", "copilot"),
    ("Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>", "copilot"),
    ("Co-authored-by: Copilot App <223556219+Copilot@users.noreply.github.com>", "copilot"),
    ("Co-authored-by: copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>", "copilot"),
    (
        "Co-authored-by: Copilot Autofix powered by AI "
        "<62310815+github-advanced-security[bot]@users.noreply.github.com>",
        "copilot",
    ),
    ("Co-authored-by: Copilot <copilot@github.com>", "copilot"),
    ("Co-authored-by: Codex <noreply@openai.com>", "codex"),
    ("Co-authored-by: Codex <codex@openai.com>", "codex"),
    ("Co-authored-by: aider (gpt-4o) <aider@aider.chat>", "aider"),
    ("Co-authored-by: aider (anthropic/claude-sonnet-4) <noreply@aider.chat>", "aider"),
    ("Co-authored-by: aider (vertex_ai/gemini-2.5-pro) <noreply@aider.dev>", "aider"),
    ("Co-authored-by: gemini-code-assist[bot] <176961590+gemini-code-assist[bot]@users.noreply.github.com>", "gemini"),
    ("Co-authored-by: Gemini <gemini@google.com>", "gemini"),
    ("Co-authored-by: Google Gemini <noreply@google.com>", "gemini"),
    ("Co-authored-by: google-labs-jules[bot] <161369871+google-labs-jules[bot]@users.noreply.github.com>", "jules"),
]


@pytest.mark.parametrize(("trailer", "tool"), REAL_TRAILERS, ids=[t for t, _ in REAL_TRAILERS])
def test_each_tools_real_trailer_names_it(trailer, tool):
    assert ai_coauthors(msg(trailer)) == [tool]


def test_every_tool_has_a_recognised_trailer():
    assert {tool for _, tool in REAL_TRAILERS} == set(TOOLS)


@pytest.mark.parametrize(
    "trailer",
    [
        "Co-authored-by: Jane Doe <jane@example.com>",
        "Co-authored-by: octocat <583231+octocat@users.noreply.github.com>",
        "Co-authored-by: Claude Martin <claude.martin@example.com>",  # a person called Claude
        "Co-authored-by: Claudette Dupont <claudette@example.fr>",
        "Co-authored-by: Sam Altmann <sam@openai.com>",  # a person at OpenAI, not Codex
        "Co-authored-by: Ann Dev <ann@anthropic.com>",  # a person at Anthropic, not Claude Code
        "Co-authored-by: gemini-cli-robot <gemini-cli-robot@google.com>",  # release automation
        "Co-authored-by: Gemini Smith <gemini.smith@example.com>",  # a Gemini name needs a google.com address
        "Co-authored-by: Cursorvich <ivan@cursor.example>",
        "Co-authored-by: dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>",
        "Co-authored-by: github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>",
    ],
)
def test_human_and_non_ai_co_authors_are_ignored(trailer):
    assert ai_coauthors(msg(trailer)) == []


def test_tools_are_sorted_and_unique_and_humans_among_them_ignored():
    message = msg(
        "Co-authored-by: Cursor Agent <cursoragent@cursor.com>",
        "Co-authored-by: Jane Doe <jane@example.com>",
        "Co-Authored-By: Claude <noreply@anthropic.com>",
        "Co-Authored-By: Claude Opus 4.6 <noreply@anthropic.com>",
        "Signed-off-by: Jane Doe <jane@example.com>",
    )
    assert ai_coauthors(message) == ["claude_code", "cursor"]


@pytest.mark.parametrize(
    "trailer",
    [
        "co-authored-by: Claude <noreply@anthropic.com>",
        "CO-AUTHORED-BY: Claude <noreply@anthropic.com>",
        "Co-Authored-By: CLAUDE <NOREPLY@ANTHROPIC.COM>",
        "Co-authored-by : Claude <noreply@anthropic.com>",  # git allows blanks before the separator
        "Co-authored-by:Claude <noreply@anthropic.com>",
        "Co-authored-by:    Claude    <noreply@anthropic.com>   ",
        "Co-authored-by: <noreply@anthropic.com>",  # no name, the address alone says it
    ],
)
def test_key_and_identity_are_matched_case_insensitively_and_blanks_are_tolerated(trailer):
    assert ai_coauthors(msg(trailer)) == ["claude_code"]


@pytest.mark.parametrize(
    "trailer",
    [
        "Co-authored-by: Claude",  # no address
        "Co-authored-by: Copilot copilot@github.com",  # no angle brackets
        "Co-authored-by: Claude <noreply@anthropic.com",  # unclosed
        "Co-authored-by: Claude <noreply-at-anthropic.com>",  # not an address
        "Co-authored-by: Claude <noreply@anthropic.com> and Cursor <cursoragent@cursor.com>",
        "Co-authored-by:",
        "Co-authored-by Claude <noreply@anthropic.com>",  # no separator: not a trailer
        "Co authored by: Claude <noreply@anthropic.com>",  # a blank inside the key: not a trailer
        "Authored-by: Claude <noreply@anthropic.com>",  # another key
        "Reviewed-by: Claude <noreply@anthropic.com>",
    ],
)
def test_malformed_or_other_trailers_name_no_tool(trailer):
    assert ai_coauthors(msg(trailer)) == []


@pytest.mark.parametrize("message", [None, "", "   ", "\n\n", "Fix the cache", "Fix the cache\n\nJust a body.\n"])
def test_no_message_or_no_trailers_is_empty(message):
    assert ai_coauthors(message) == []


def test_only_the_last_paragraph_holds_trailers():
    # A trailer-looking line in the body, followed by another paragraph, is prose
    assert ai_coauthors("Fix\n\nCo-authored-by: Claude <noreply@anthropic.com>\n\nMore words here.\n") == []
    # The title is never a trailer block, even with no other paragraph
    assert ai_coauthors("Co-authored-by: Claude <noreply@anthropic.com>") == []
    assert ai_coauthors("Fix\nCo-authored-by: Claude <noreply@anthropic.com>\n") == []
    # Prose and a trailer in one paragraph, with no git-generated line: not a trailer block
    assert ai_coauthors("Fix\n\nThanks to the bot.\nCo-authored-by: Claude <noreply@anthropic.com>\n") == []


def test_a_paragraph_with_a_git_generated_line_needs_a_quarter_of_trailers():
    base = "Fix\n\n"
    trailer = "Co-authored-by: Claude <noreply@anthropic.com>\nSigned-off-by: Jane <jane@example.com>\n"
    # 2 trailers, 3 prose lines (2 * 3 >= 3): accepted
    assert ai_coauthors(base + "one\ntwo\nthree\n" + trailer) == ["claude_code"]
    # 2 trailers, 7 prose lines (2 * 3 < 7): refused
    assert ai_coauthors(base + "a\nb\nc\nd\ne\nf\ng\n" + trailer) == []


def test_squash_merge_message_trailers_after_a_dashed_line_count():
    message = (
        "Add retries (#42)\n\n* first step\n\n* second step\n\n---------\n\n"
        "Co-authored-by: copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>\n"
        "Co-authored-by: Jane Doe <jane@example.com>"
    )
    assert ai_coauthors(message) == ["copilot"]


def test_crlf_trailing_blank_lines_comments_and_continuations():
    assert ai_coauthors("Fix\r\n\r\nCo-Authored-By: Claude <noreply@anthropic.com>\r\n\r\n\r\n") == ["claude_code"]
    assert ai_coauthors("Fix\n\nCo-authored-by: Claude <noreply@anthropic.com>\n# a comment line\n") == ["claude_code"]
    # A value folded over two lines is one trailer
    assert ai_coauthors("Fix\n\nCo-authored-by: Cursor Agent\n <cursoragent@cursor.com>\n") == ["cursor"]
    assert trailers("Fix\n\nCo-authored-by: Cursor Agent\n <cursoragent@cursor.com>\n") == [
        ("Co-authored-by", "Cursor Agent <cursoragent@cursor.com>")
    ]


def test_claude_code_default_footer_shape():
    message = (
        "Add the feature\n\nDetails.\n\n\U0001f916 Generated with [Claude Code](https://claude.com/claude-code)\n\n"
        "Co-Authored-By: Claude Sonnet 4.5 <noreply@anthropic.com>\n"
    )
    assert ai_coauthors(message) == ["claude_code"]


def test_coauthor_tool_by_name_alone():
    assert coauthor_tool("Claude", "someone@example.com") == "claude_code"
    assert coauthor_tool("Cursor Agent", "someone@example.com") == "cursor"
    assert coauthor_tool("Codex", "someone@example.com") == "codex"
    assert coauthor_tool("aider", "someone@example.com") == "aider"
    assert coauthor_tool("Copilot", "someone@example.com") == "copilot"
    assert coauthor_tool("Jane Doe", "jane@example.com") is None


GIT_PARITY_MESSAGES = [
    msg("Co-authored-by: Claude <noreply@anthropic.com>", "Signed-off-by: Jane <jane@example.com>"),
    "Fix\n\nCo-authored-by: Claude <noreply@anthropic.com>\n\nMore words here.\n",
    "Fix\n\nThanks.\nCo-authored-by: Claude <noreply@anthropic.com>\n",
    "Fix\n\none\ntwo\nthree\nCo-authored-by: Claude <noreply@anthropic.com>\nSigned-off-by: Jane <jane@example.com>\n",
    "Fix\n\na\nb\nc\nd\ne\nf\ng\nCo-authored-by: Claude <noreply@anthropic.com>\nSigned-off-by: J <j@example.com>\n",
    "Co-authored-by: Claude <noreply@anthropic.com>\n",
    "Fix\n\nCo-authored-by : Cursor Agent\n  <cursoragent@cursor.com>\nReviewed-by: Jane <jane@example.com>\n\n\n",
    "Add retries (#42)\n\n* step\n\n---------\n\nCo-authored-by: aider (gpt-4o) <aider@aider.chat>\n",
    "Fix\n\nCo-authored-by Claude <noreply@anthropic.com>\n",
]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("message", GIT_PARITY_MESSAGES)
def test_trailers_are_the_ones_git_interpret_trailers_parses(message):
    parsed = subprocess.run(
        ["git", "-c", "trailer.separators=:", "interpret-trailers", "--parse", "--no-divider"],
        input=message,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = [tuple(part.strip() for part in line.split(":", 1)) for line in parsed.splitlines()]
    assert trailers(message) == expected
