/* libgreet: formats a greeting. Shared library, soname libgreet.so.1. */
#ifndef GREET_H
#define GREET_H

#include <stdio.h>

/* The library's interface version; it changes with the soname. */
#define GREET_ABI 1

/* Writes "<greeting>, <name>!" and a newline to out; returns 0, or -1 on a write error. */
int greet_write(FILE *out, const char *greeting, const char *name);

/* The interface version of the library that is actually loaded. */
int greet_abi(void);

#endif
