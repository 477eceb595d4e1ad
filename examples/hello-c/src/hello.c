/* hello: prints a greeting read from $(sysconfdir)/hello.conf. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greet.h"

#ifndef VERSION
#error "VERSION is set by the Makefile"
#endif
#ifndef SYSCONFDIR
#error "SYSCONFDIR is set by the Makefile"
#endif

#define CONF_FILE SYSCONFDIR "/hello.conf"

struct config {
    char greeting[128];
    char name[128];
};

/* Cuts leading and trailing blanks off s in place and returns the start. */
static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

/* Reads "key = value" lines; '#' starts a comment. A missing file keeps the defaults. */
static int read_config(const char *path, struct config *conf)
{
    char line[512];
    unsigned lineno = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        fprintf(stderr, "hello: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char *key, *value, *eq, *hash;

        lineno++;
        hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        key = trim(line);
        if (*key == '\0')
            continue;
        eq = strchr(key, '=');
        if (eq == NULL) {
            fprintf(stderr, "hello: %s:%u: expected \"key = value\"\n", path, lineno);
            fclose(f);
            return -1;
        }
        *eq = '\0';
        key = trim(key);
        value = trim(eq + 1);
        if (strcmp(key, "greeting") == 0) {
            snprintf(conf->greeting, sizeof conf->greeting, "%s", value);
        } else if (strcmp(key, "name") == 0) {
            snprintf(conf->name, sizeof conf->name, "%s", value);
        } else {
            fprintf(stderr, "hello: %s:%u: unknown key \"%s\" (known: greeting, name)\n",
                    path, lineno, key);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hello [NAME]\n"
            "       hello --version | --help\n"
            "Prints a greeting. The greeting and the default name come from\n"
            "%s (or the file named by $HELLO_CONF).\n",
            CONF_FILE);
}

int main(int argc, char **argv)
{
    struct config conf = { "Hello", "world" };
    const char *path = getenv("HELLO_CONF");
    const char *name;

    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("hello %s (libgreet.so.%d)\n", VERSION, greet_abi());
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        usage(stderr);
        return 2;
    }
    if (path == NULL || *path == '\0')
        path = CONF_FILE;
    if (read_config(path, &conf) != 0)
        return 1;
    name = argc == 2 ? argv[1] : conf.name;
    if (greet_write(stdout, conf.greeting, name) != 0 || fflush(stdout) != 0) {
        fprintf(stderr, "hello: cannot write the greeting: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
