/* main.c -- placeholder entry point until the worker CLI lands (issue 3). */
#include <stdio.h>

int main(void)
{
    puts("backfill-worker " BF_VERSION);
    return 0;
}
