"""NIR (Neuromorphic Intermediate Representation) export and import of spiking networks.

:func:`export_nir` writes a converted network as a ``nir.NIRGraph`` (and a ``.nir`` file) that other simulators and
neuromorphic toolchains read; :func:`import_nir` builds a spkeras spiking model from such a graph. Both need the
optional package ``nir`` (``pip install "spkeras[nir]"``); ``import spkeras.nir`` works without it. The mapping,
what is refused and why, and the simulation conventions are in ``docs/nir.md``.
"""

from spkeras.nir.export import export_nir
from spkeras.nir.importer import import_nir

__all__ = ["export_nir", "import_nir"]
