"""File formats, IDs and alleles: everything that touches user files."""
