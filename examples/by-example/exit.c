/* exit.c: os.Exit(3) ends the program at once with status 3. Twin of
 * exit.go.
 *
 * Rule: exact, with exit status 3 (chapters.txt says status=3; the test
 * checks both). go run would report status 1, so the Go test runs the
 * built binary.
 *
 * Go's os.Exit skips deferred calls. C has no defer: the cleanup a Go
 * program defers is code at the end of the scope, and exit() skips it the
 * same way. Unlike os.Exit, C's exit() still runs atexit() handlers and
 * flushes stdio buffers (so the line below is printed even through a pipe);
 * _exit() skips those too, as os.Exit does.
 */
#include <stdio.h>
#include <stdlib.h>

static void cleanup(void)
{
    printf("deferred: cleaning up\n");
}

int main(void)
{
    /* defer fmt.Println("deferred: cleaning up"): in C, a call at the end
     * of main, which exit() below never reaches. */
    printf("exiting with status 3\n");
    exit(3); /* os.Exit(3) */

    cleanup(); /* never runs */
    return 0;
}
