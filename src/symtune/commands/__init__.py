"""One module per CLI verb (see symtune.cli)."""
