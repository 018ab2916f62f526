# mk/engine.mk: see the top-level Makefile.
