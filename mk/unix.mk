# mk/unix.mk: see the top-level Makefile.
