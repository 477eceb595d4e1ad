#include "greet.h"

int greet_write(FILE *out, const char *greeting, const char *name)
{
    if (fprintf(out, "%s, %s!\n", greeting, name) < 0)
        return -1;
    return 0;
}

int greet_abi(void)
{
    return GREET_ABI;
}
