"""Every dotted ``spkeras.…`` name written in README.md and docs/ resolves by attribute access after
``import spkeras``, as a user would type it (issue 25: names documented but missing raised AttributeError)."""

from __future__ import annotations

import re

import pytest

import spkeras
from tests.docs import snippets

NAME = re.compile(r"(?<![\w/.-])spkeras(?:\.[A-Za-z_]\w*)+")
# Names of the *original* SpKeras package, quoted in the migration guide's "SpKeras" column on purpose.
ORIGINAL_SPKERAS = {"spkeras.layers.SpikeActivation", "spkeras.utils.save_pickle"}


def documented_names() -> dict[str, str]:
    """Each dotted name → the first document that writes it."""
    found = {}
    for path in snippets.documents():
        for match in NAME.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(match.group(0), str(path.relative_to(snippets.ROOT)))
    return found


def resolve(name: str):
    value = spkeras
    for part in name.split(".")[1:]:
        value = getattr(value, part)
    return value


def test_documents_name_many_things():
    assert len(documented_names()) > 50


@pytest.mark.parametrize("name, document", sorted(documented_names().items()))
def test_documented_name_resolves(name, document):
    if name in ORIGINAL_SPKERAS:
        assert document == "docs/migrating.md", f"{name} is an original-SpKeras name, quoted in {document}"
        return
    try:
        resolve(name)
    except AttributeError as error:
        pytest.fail(f"{document} names {name}, which does not resolve after `import spkeras`: {error}")


def test_a_missing_name_is_caught():
    with pytest.raises(AttributeError):
        resolve("spkeras.conversion.no_such_function")
