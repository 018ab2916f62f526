# mk/firmware.mk: see the top-level Makefile.
