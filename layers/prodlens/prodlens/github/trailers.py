"""The AI tools a commit message's `Co-authored-by` trailers name, as ProdLens tool names.

github_sync reads each commit message once, at sync time, keeps only `ai_coauthors(message)` and drops the text.

Which lines are trailers follows `git interpret-trailers` (trailer.c, `find_trailer_block_start`): only the
message's last paragraph can hold them, never the first (the title); a paragraph is a trailer block when every
line in it is a `Key: value` line (a token of letters, digits and `-`, optional blanks, then `:`), or when it
holds a git-generated line (`Signed-off-by: `, `(cherry picked from commit `) and at least a quarter of its lines
are trailers. Lines starting with whitespace continue the previous trailer; lines starting with `#` are comments;
CRLF counts as LF. The key is matched case-insensitively (`Co-authored-by`, `Co-Authored-By`, ...), and the value
must be `Name <email>` (an empty name is allowed); any other value is malformed and ignored. A `Co-authored-by`
line anywhere else (in the body, in the title) is prose, not a trailer, and is ignored.

A trailer names a tool when its email or its name matches a row below (names and emails compared
case-insensitively; first matching tool wins). Any other co-author is a person and is ignored: so a human called
"Claude Martin" or a colleague at openai.com is not an AI co-author.

| tool | the co-author matches when (name, email lower-cased; name blanks collapsed) |
|---|---|
| `claude_code` | email is `noreply@anthropic.com` |
| `claude_code` | name is `claude` or `claude (…)` |
| `claude_code` | name starts `claude code`, `claude opus`, `claude sonnet`, `claude haiku` or `claude <digit>` |
| `cursor` | email is `cursoragent@cursor.com` |
| `cursor` | name is `cursor agent` or `cursoragent` |
| `copilot` | email is `<digits>+copilot@users.noreply.github.com` or `copilot@github.com` |
| `copilot` | name or email contains `copilot-swe-agent[bot]` |
| `copilot` | name is `copilot` or starts `copilot ` (`Copilot App`, `Copilot Autofix powered by AI`) |
| `codex` | email is `noreply@openai.com` or `codex@openai.com` |
| `codex` | name is `codex`, `codex (<anything>)`, `openai codex`, or starts `codex cli` |
| `aider` | email ends `@aider.chat` or `@aider.dev` |
| `aider` | name is `aider` or `aider (<model>)` |
| `gemini` | name or email contains `gemini-code-assist[bot]` |
| `gemini` | email ends `@google.com` and name is `gemini`, `google gemini`, `gemini cli`, `gemini cli agent` |
| `gemini` | email ends `@google.com` and name is `gemini code assist`; any of these names may end `(…)` |
| `jules` | name or email contains `google-labs-jules[bot]` |

Evidence for each row (the trailer text each tool writes, as found in public repositories and threads):

- claude_code: Claude Code appends `Co-Authored-By: Claude <noreply@anthropic.com>` by default
  (https://github.com/anthropics/claude-code/issues/29999); newer versions name the model,
  `Co-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>` (https://github.com/anthropics/claude-code/issues/14241).
  The history of google-gemini/gemini-cli holds `Claude Sonnet 4.6`, `Claude Opus 4.6 (1M context)` and
  `Claude (claude-opus-4-6)`, all `<noreply@anthropic.com>`.
- cursor: "Cursor now adds its own Co-authored-by trailer with cursoragent@cursor.com"
  (https://github.com/block/aittributor/pull/15); google-gemini/gemini-cli history holds both
  `Co-authored-by: Cursor <cursoragent@cursor.com>` and `Co-authored-by: Cursor Agent <cursoragent@cursor.com>`.
- copilot: VS Code's git extension appends `Co-authored-by: Copilot <223556219+Copilot@users.noreply.github.com>`
  (microsoft/vscode extensions/git/src/repository.ts, https://github.com/microsoft/vscode/pull/309951; it used
  `copilot@github.com` before), so does Copilot CLI (https://github.com/orgs/community/discussions/203517); the
  coding agent's commits squash-merge as
  `Co-authored-by: copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>`
  (github/docs commit e0c9dcb16058b521f99a2f7f5a8dbf78eaf886f0, PR #60381); google-gemini/gemini-cli history holds
  `Copilot <175728472+Copilot@users.noreply.github.com>`, `Copilot App <223556219+Copilot@...>` and
  `Copilot Autofix powered by AI <62310815+github-advanced-security[bot]@users.noreply.github.com>`.
- codex: Codex's commit attribution (default label `Codex`) writes `Co-authored-by: Codex <noreply@openai.com>`
  (https://github.com/openai/codex/pull/11617); `Codex <codex@openai.com>` is used by hand
  (https://github.com/s-morgan-jeffries/apple-mail-fast-mcp/pull/455).
- aider: Aider-AI/aider aider/repo.py writes `Co-authored-by: aider ({model_name}) <aider@aider.chat>`, on by
  default (aider/args.py `--attribute-co-authored-by`, default True); from April to June 2025 the address was
  `noreply@aider.chat` (commit 1d4269082) and, briefly, `noreply@aider.dev` (commit 67bb4f955).
- gemini: committing a suggestion of the Gemini Code Assist reviewer adds
  `Co-authored-by: gemini-code-assist[bot] <176961590+gemini-code-assist[bot]@users.noreply.github.com>`
  (over 2,000 commits of google-gemini/gemini-cli, e.g. 48f7366ba8 "Apply suggestions from code review");
  Gemini CLI writes no trailer of its own, users add `Co-Authored-By: Gemini <gemini@google.com>`
  (https://github.com/google-gemini/gemini-cli/issues/25721; `Google Gemini <noreply@google.com>` in its history).
  `gemini-cli-robot` (release automation) is not Gemini.
- jules: Jules commits as a co-author, `google-labs-jules[bot]`, and its SDK finds Jules PRs by that co-author
  (google-labs-code/jules-sdk .github/workflows/fleet-merge.yml, PR #94); the trailer is
  `Co-authored-by: google-labs-jules[bot] <161369871+google-labs-jules[bot]@users.noreply.github.com>` (104 commits
  of google-gemini/gemini-cli).
"""

from __future__ import annotations

import re

TOOLS = ("aider", "claude_code", "codex", "copilot", "cursor", "gemini", "jules")

_GIT_GENERATED_PREFIXES = ("Signed-off-by: ", "(cherry picked from commit ")
_SEPARATOR = re.compile(r"^[A-Za-z0-9-]+[ \t]*:")  # git's find_separator with the default ":" separator
_CO_AUTHOR_KEY = "co-authored-by"
_NAME_EMAIL = re.compile(r"^(?P<name>[^<>]*?)\s*<(?P<email>[^<>\s@]+@[^<>\s@]+)>$")

_CLAUDE_NAME = re.compile(r"^claude(?:$|\s*\(|\s+code\b|\s+(?:opus|sonnet|haiku)\b|\s+\d)")
_CURSOR_NAMES = frozenset({"cursor agent", "cursoragent"})
_COPILOT_NAME = re.compile(r"^copilot(?:$|\s)")
_COPILOT_EMAIL = re.compile(r"^\d+\+copilot@users\.noreply\.github\.com$")
_CODEX_NAME = re.compile(r"^(?:openai\s+)?codex(?:$|\s*\(|\s+cli\b)")
_CODEX_EMAILS = frozenset({"noreply@openai.com", "codex@openai.com"})
_AIDER_NAME = re.compile(r"^aider(?:$|\s*\()")
_GEMINI_NAME = re.compile(r"^(?:google\s+)?gemini(?:\s+cli(?:\s+agent)?|\s+code\s+assist)?(?:\s*\(.*\))?$")


def ai_coauthors(message: str | None) -> list[str]:
    """The AI tools named by `Co-authored-by` trailers of `message`: sorted, unique, ProdLens tool names."""
    if not message:
        return []
    tools = set()
    for key, value in trailers(message):
        if key.lower() != _CO_AUTHOR_KEY:
            continue
        matched = _NAME_EMAIL.match(value)
        if matched is None:
            continue
        tool = coauthor_tool(matched["name"], matched["email"])
        if tool is not None:
            tools.add(tool)
    return sorted(tools)


def coauthor_tool(name: str, email: str) -> str | None:
    """The ProdLens tool a co-author `Name <email>` is, or None for a person (see the module table)."""
    name = " ".join(name.split()).lower()
    email = email.strip().lower()
    if email == "noreply@anthropic.com" or _CLAUDE_NAME.match(name):
        return "claude_code"
    if email == "cursoragent@cursor.com" or name in _CURSOR_NAMES:
        return "cursor"
    if (
        _COPILOT_EMAIL.match(email)
        or email == "copilot@github.com"
        or "copilot-swe-agent[bot]" in name
        or "copilot-swe-agent[bot]" in email
        or _COPILOT_NAME.match(name)
    ):
        return "copilot"
    if email in _CODEX_EMAILS or _CODEX_NAME.match(name):
        return "codex"
    if email.endswith(("@aider.chat", "@aider.dev")) or _AIDER_NAME.match(name):
        return "aider"
    if (
        "gemini-code-assist[bot]" in name
        or "gemini-code-assist[bot]" in email
        or (email.endswith("@google.com") and _GEMINI_NAME.match(name))
    ):
        return "gemini"
    if "google-labs-jules[bot]" in name or "google-labs-jules[bot]" in email:
        return "jules"
    return None


def trailers(message: str) -> list[tuple[str, str]]:
    """The (key, value) trailers of a commit message, as `git interpret-trailers --parse` finds them."""
    lines = message.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = _trailer_block_start(lines)
    if start is None:
        return []
    found: list[tuple[str, str]] = []
    for line in lines[start:]:
        if not line.strip() or line.startswith("#"):
            continue
        if line[0] in " \t":
            if found:  # a continuation line folds into the trailer above it
                key, value = found[-1]
                found[-1] = (key, f"{value} {line.strip()}".strip())
            continue
        separator = _SEPARATOR.match(line)
        if separator is None:
            continue  # a non-trailer line of a block accepted by the 25 % rule
        key = line[: separator.end() - 1].rstrip()
        found.append((key, line[separator.end() :].strip()))
    return found


def _trailer_block_start(lines: list[str]) -> int | None:
    """Index of the first line of the trailer block (the last paragraph), or None when there is none."""
    # The title paragraph is never a trailer block: the scan stops at its first blank (non-comment) line.
    end_of_title = next(
        (index for index, line in enumerate(lines) if not line.startswith("#") and not line.strip()), len(lines)
    )
    trailer_lines = non_trailer_lines = possible_continuations = 0
    recognized_prefix = False
    only_spaces = True
    for index in range(len(lines) - 1, end_of_title - 1, -1):
        line = lines[index]
        if line.startswith("#"):
            non_trailer_lines += possible_continuations
            possible_continuations = 0
            continue
        if not line.strip():
            if only_spaces:
                continue
            non_trailer_lines += possible_continuations
            return index + 1 if _is_trailer_block(trailer_lines, non_trailer_lines, recognized_prefix) else None
        only_spaces = False
        if line.startswith(_GIT_GENERATED_PREFIXES):
            trailer_lines += 1
            possible_continuations = 0
            recognized_prefix = True
        elif line[0] not in " \t" and _SEPARATOR.match(line):
            trailer_lines += 1
            possible_continuations = 0
        elif line[0] in " \t":
            possible_continuations += 1
        else:
            non_trailer_lines += 1 + possible_continuations
            possible_continuations = 0
    return None


def _is_trailer_block(trailer_lines: int, non_trailer_lines: int, recognized_prefix: bool) -> bool:
    """Git's rule: only trailers, or at least 25 % trailers when one has a prefix git itself writes."""
    if recognized_prefix and trailer_lines * 3 >= non_trailer_lines:
        return True
    return bool(trailer_lines) and not non_trailer_lines
