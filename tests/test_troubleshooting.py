"""Every error message ecsfleet can show a user is on docs/troubleshooting.md: the messages are
collected from the source with the AST (so a new `raise UserError(...)` without a page entry fails
here), and each one's longest literal fragment must appear on the page."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "ecsfleet"
PAGE = ROOT / "docs" / "troubleshooting.md"

# The exception classes whose message ends a command as its `error:` line (errors.py's and the
# modules' own subclasses of them), and typer's for a value refused at parse time.
ERROR_CLASSES = {"UserError", "NotFound", "ConfigError", "InfraError", "DeployError", "RolloutError",
                 "WindowError", "UserDataError", "BadParameter"}
# infra.yml's reader: `_Refused(line, message)`, the message is the second argument.
LINE_FIRST = {"_Refused"}
# A raised ValueError is how pydantic validators and option parsers refuse a value: its message
# becomes the field's (infra.yml, services file) or the option's error.
RAISED_ONLY = {"ValueError"}
# Shorter fragments ("missing", "not found") would match the page by accident.
MIN_FRAGMENT = 12
PLACEHOLDER = "…"

# Messages a user cannot reach, with why: a page entry for them would document nothing.
UNREACHABLE: dict[str, str] = {
    "policy must be one of …": "dns-sync's --policy is an enum typer checks first; this guards the planner's API",
}


def in_scope(path: Path) -> bool:
    """ecsfleet's own modules; of the sandbox only its command line (the rest is emulated AWS,
    whose refusals are AWS's messages, documented on the fidelity page)."""
    parts = path.relative_to(SOURCE).parts
    return parts[0] != "sandbox" or parts[-1] == "cli.py"


def message_text(node: ast.expr, constants: dict[str, str]) -> str | None:
    """The text of a message argument, f-string placeholders as `…`; None when not literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else PLACEHOLDER for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = message_text(node.left, constants), message_text(node.right, constants)
        return (left or PLACEHOLDER) + (right or PLACEHOLDER) if left or right else None
    return None


def module_constants(tree: ast.Module) -> dict[str, str]:
    """The module's string constants (`ONCE_OR_INTERVAL = "..."`), for messages raised by name."""
    constants: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            text = message_text(node.value, {})
            for target in targets:
                if isinstance(target, ast.Name) and text is not None:
                    constants[target.id] = text
    return constants


def called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def message_argument(call: ast.Call, raised: bool) -> ast.expr | None:
    """The argument of an error's constructor that holds its message, if the call makes an error."""
    name = called_name(call)
    if name in LINE_FIRST:
        return call.args[1] if len(call.args) > 1 else None
    if name in ERROR_CLASSES or (raised and name in RAISED_ONLY):
        return call.args[0] if call.args else None
    return None


def messages_of(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, message) of every error a user can see in one module: an error class called with a
    literal message, and the `error=` of a failed outcome when ecsfleet (not AWS) wrote it."""
    constants = module_constants(tree)
    raised = {id(node.exc) for node in ast.walk(tree) if isinstance(node, ast.Raise) and node.exc}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        arguments = [keyword.value for keyword in node.keywords if keyword.arg == "error"]
        argument = message_argument(node, id(node) in raised)
        for value in [argument, *arguments] if argument is not None else arguments:
            text = message_text(value, constants)
            if text is not None:
                found.append((node.lineno, text))
    return found


def collect() -> list[tuple[str, str]]:
    """(where, message) for every module in scope, sorted so a failure lists them in file order."""
    found: list[tuple[str, str]] = []
    for path in sorted(SOURCE.rglob("*.py")):
        if in_scope(path):
            where = str(path.relative_to(ROOT))
            for line, text in messages_of(ast.parse(path.read_text(), str(path))):
                found.append((f"{where}:{line}", text))
    return found


def longest_fragment(message: str) -> str:
    """The message's longest literal run, trimmed: the part a reader would search the page for."""
    return max((part.strip(" \n:;,.'\"()") for part in message.split(PLACEHOLDER)), key=len)


MESSAGES = collect()


def test_the_walk_finds_the_messages() -> None:
    texts = {text for _, text in MESSAGES}
    assert len(MESSAGES) > 50
    assert "no services file: pass --services or set SERVICES_URL" in texts
    assert any(text.startswith("cluster ") and "not found in" in text for text in texts)


def test_the_unreachable_list_names_only_messages_that_exist() -> None:
    texts = {text for _, text in MESSAGES}
    assert set(UNREACHABLE) <= texts, set(UNREACHABLE) - texts
    assert all(reason.strip() for reason in UNREACHABLE.values())


# A message the page can be checked for: reachable by a user, with a literal fragment long enough
# to find (pure wrappers such as "…: …" add nothing to the message they wrap).
CHECKED = [(where, message) for where, message in MESSAGES
           if message not in UNREACHABLE and len(longest_fragment(message)) >= MIN_FRAGMENT]


def test_most_messages_are_checked() -> None:
    assert len(CHECKED) >= 100, len(CHECKED)


@pytest.mark.parametrize(("where", "message"), CHECKED, ids=[where for where, _ in CHECKED])
def test_every_message_is_on_the_page(where: str, message: str) -> None:
    fragment = longest_fragment(message)
    page = PAGE.read_text()
    assert fragment in page, f"{where}: {message!r} is not on docs/troubleshooting.md ({fragment!r})"
