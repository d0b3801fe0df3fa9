"""The rotation simulation of the paper's Fig. 2, one point at a time, in memory.

* :mod:`~gemcont.rotation.settings`: typed ``rotation`` config section;
* :mod:`~gemcont.rotation.jobs`: the sweep's points and the (point, method, seed) runs;
* :mod:`~gemcont.rotation.glyphs`, :mod:`~gemcont.rotation.data`: glyph images and the
  genotypes -> z -> rotation simulation;
* :mod:`~gemcont.rotation.run`, :mod:`~gemcont.rotation.score`: one run (train, embed)
  and its scores;
* :mod:`~gemcont.rotation.tables`, :mod:`~gemcont.rotation.figure`: metric tables and
  the Fig. 2 layout;
* :mod:`~gemcont.rotation.cli`: ``python -m gemcont.rotation``, standalone (e.g. on a
  GPU machine without Snakemake, bed-reader, jsonschema or scikit-learn).

Run from the workflow (``snakemake fig2``) or standalone (``scripts/fig2_gpu.sh``).
"""
