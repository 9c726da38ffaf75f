"""spkeras works without the optional package nir; the NIR functions then say how to install it."""

import subprocess
import sys

BLOCKED = """
import sys
sys.modules["nir"] = None  # as if nir were not installed
import spkeras, spkeras.nir
assert "export_nir" in spkeras.__all__
try:
    spkeras.import_nir("model.nir")
except ImportError as error:
    print(error)
"""


def test_without_nir_spkeras_imports_and_names_the_extra():
    completed = subprocess.run([sys.executable, "-c", BLOCKED], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert 'pip install "spkeras[nir]"' in completed.stdout
