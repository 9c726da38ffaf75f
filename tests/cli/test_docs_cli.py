"""docs/cli.md lists what the parser and the library accept: its lists are generated, so they cannot drift.

``python -m tests.cli.test_docs_cli --write`` fills the ``<!-- cli:NAME -->…<!-- /cli:NAME -->`` blocks of
docs/cli.md (the commands table, the ``--method``, ``--max-pooling``, ``--calibrate`` and ``--encoding`` names).
"""

from __future__ import annotations

import contextlib
import io
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "cli.md"
BLOCK = re.compile(r"<!-- cli:(?P<name>[\w-]+) -->(?P<body>.*?)<!-- /cli:(?P=name) -->", re.DOTALL)


def _names(names) -> str:
    return ", ".join(f"`{name}`" for name in names)


def generated() -> dict[str, str]:
    """The body of every generated block, from the parser and the library."""
    from spkeras.cli.constants import ENCODING_NAMES, MAX_POOLING_NAMES, METHOD_NAMES
    from spkeras.cli.parser import COMMAND_HELP
    from spkeras.cli.support import calibration_names

    rows = [f"| [`{name}`](#spkeras-{name}) | {text} |" for name, text in COMMAND_HELP.items()]
    return {
        "commands": "\n".join(["", "| command | what it does |", "|---|---|", *rows, ""]),
        "methods": _names(METHOD_NAMES),
        "max-pooling": _names(MAX_POOLING_NAMES),
        "calibrate": _names(calibration_names()),
        "encodings": _names(ENCODING_NAMES),
    }


def write() -> None:
    blocks = generated()
    text = BLOCK.sub(lambda m: f"<!-- cli:{m['name']} -->{blocks[m['name']]}<!-- /cli:{m['name']} -->", DOC.read_text())
    DOC.write_text(text)


def test_generated_lists_are_up_to_date():
    blocks = {match["name"]: match["body"] for match in BLOCK.finditer(DOC.read_text())}
    expected = generated()
    assert sorted(blocks) == sorted(expected), "docs/cli.md lacks or adds a generated block"
    for name, body in expected.items():
        assert blocks[name] == body, f"docs/cli.md's '{name}' list is stale: python -m tests.cli.test_docs_cli --write"


def test_the_lists_are_what_the_library_accepts():
    from spkeras.cli.constants import CALIBRATION_NAMES, MAX_POOLING_NAMES
    from spkeras.cli.parser import COMMAND_HELP
    from spkeras.cli.support import calibration_names

    assert CALIBRATION_NAMES == calibration_names()
    assert {"per_step", "light", "advanced"} <= set(CALIBRATION_NAMES)
    assert len(COMMAND_HELP) == 6
    import inspect

    import spkeras

    assert "max_pooling" in inspect.signature(spkeras.convert).parameters
    assert MAX_POOLING_NAMES == ("spiking", "average", "error")


def _help(command: str) -> str:
    from spkeras.cli.parser import build_parser

    stream = io.StringIO()
    with contextlib.redirect_stdout(stream), pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return stream.getvalue()


def _section(command: str) -> str:
    text = DOC.read_text()
    start = text.index(f"## `spkeras {command}`")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


@pytest.mark.parametrize("command", ["convert", "finetune", "evaluate", "info", "export-nir", "demo"])
def test_every_option_is_documented_in_its_section(command):
    options_part = _help(command).split("\nexit status")[0]  # the epilog mentions --plot for every command
    options = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", options_part)) - {"--help"}
    section = _section(command)
    missing = sorted(option for option in options if f"`{option}" not in section)
    assert not missing, f"docs/cli.md's section on {command} does not document {missing}"


def test_optional_options_are_not_called_required():
    section = _section("convert")
    row = next(line for line in section.splitlines() if line.startswith("| `--calibration"))
    assert "required" not in row.split("|")[2]


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        sys.exit("usage: python -m tests.cli.test_docs_cli --write")
