# mk/bench.mk: see the top-level Makefile.
