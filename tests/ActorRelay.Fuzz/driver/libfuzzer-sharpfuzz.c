/*
 * libFuzzer front end for a .NET program that runs SharpFuzz's Fuzzer.LibFuzzer.Run.
 *
 * libFuzzer owns the mutation loop; the .NET program runs the target. They talk like this:
 *   - one System V shared memory segment: 64 KiB of edge counters (written by the SharpFuzz-instrumented
 *     assembly) followed by up to 1 MiB of input; its id is passed in the environment as __LIBFUZZER_SHM_ID;
 *   - a control pipe (the child reads it on fd 198, named in __LIBFUZZER_CONTROL_PIPE_ID): a 4-byte input
 *     length per input;
 *   - a status pipe (the child writes it on fd 199, named in __LIBFUZZER_STATUS_PIPE_ID): 4 bytes once at
 *     start-up, then a 4-byte status per input
 *     (0: the target returned, anything else: it threw).
 * After each input the counters are copied into a __libfuzzer_extra_counters section, which libFuzzer reads as
 * coverage. A non-zero status, or a child that went away, aborts, and libFuzzer records the input as a crash.
 *
 * The .NET command line comes from the environment: ACTORRELAY_FUZZ_COMMAND is run with /bin/sh -c.
 * Build: clang -O1 -fsanitize=fuzzer libfuzzer-sharpfuzz.c -o libfuzzer-sharpfuzz   (scripts/fuzz.sh does it)
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

enum { COUNTERS = 1 << 16, MAX_INPUT = 1 << 20, CHILD_CONTROL_FD = 198, CHILD_STATUS_FD = 199 };

__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t coverage[COUNTERS];

static uint8_t *shared;          /* counters, then the input */
static int segment = -1;
static int control_fd = -1;      /* we write input lengths */
static int status_fd = -1;       /* we read statuses */
static pid_t child = -1;

static void fail(const char *what)
{
    fprintf(stderr, "libfuzzer-sharpfuzz: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

static void cleanup(void)
{
    if (child > 0) { kill(child, SIGKILL); waitpid(child, NULL, 0); child = -1; }
    if (shared) { shmdt(shared); shared = NULL; }
    if (segment >= 0) { shmctl(segment, IPC_RMID, NULL); segment = -1; }
}

static int write_all(int fd, const void *buffer, size_t length)
{
    const char *p = buffer;
    while (length > 0)
    {
        ssize_t n = write(fd, p, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        length -= (size_t)n;
    }
    return 0;
}

/* 1: read all of it; 0: end of file (the child is gone); -1: error */
static int read_all(int fd, void *buffer, size_t length)
{
    char *p = buffer;
    while (length > 0)
    {
        ssize_t n = read(fd, p, length);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) return 0;
        p += n;
        length -= (size_t)n;
    }
    return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    const char *command = getenv("ACTORRELAY_FUZZ_COMMAND");
    if (!command || !*command) { errno = 0; fail("ACTORRELAY_FUZZ_COMMAND is not set"); }

    segment = shmget(IPC_PRIVATE, COUNTERS + MAX_INPUT, IPC_CREAT | IPC_EXCL | 0600);
    if (segment < 0) fail("shmget");
    atexit(cleanup);
    shared = shmat(segment, NULL, 0);
    if (shared == (void *)-1) { shared = NULL; fail("shmat"); }

    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) fail("pipe");

    child = fork();
    if (child < 0) fail("fork");
    if (child == 0)
    {
        char id[16];
        snprintf(id, sizeof id, "%d", segment);
        if (dup2(to_child[0], CHILD_CONTROL_FD) < 0 || dup2(from_child[1], CHILD_STATUS_FD) < 0) fail("dup2");
        close(to_child[0]); close(to_child[1]); close(from_child[0]); close(from_child[1]);
        setenv("__LIBFUZZER_SHM_ID", id, 1);
        setenv("__LIBFUZZER_CONTROL_PIPE_ID", "198", 1);  /* CHILD_CONTROL_FD */
        setenv("__LIBFUZZER_STATUS_PIPE_ID", "199", 1);   /* CHILD_STATUS_FD */
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        fail("exec /bin/sh");
    }
    close(to_child[0]);
    close(from_child[1]);
    control_fd = to_child[1];
    status_fd = from_child[0];
    signal(SIGPIPE, SIG_IGN);

    int32_t hello;
    if (read_all(status_fd, &hello, sizeof hello) != 1) { errno = 0; fail("the .NET target did not start"); }
    /* Both sides are attached now: mark the segment for removal, so it goes away with the last of us even when
       libFuzzer ends on a crash without running exit handlers. */
    shmctl(segment, IPC_RMID, NULL);
    segment = -1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) return 0; /* run with -max_len below 1 MiB */
    memset(shared, 0, COUNTERS);
    memcpy(shared + COUNTERS, data, size);
    int32_t length = (int32_t)size, status = 0;
    if (write_all(control_fd, &length, sizeof length) != 0)
    {
        fprintf(stderr, "libfuzzer-sharpfuzz: the .NET target is gone\n");
        abort();
    }
    int got = read_all(status_fd, &status, sizeof status);
    memcpy(coverage, shared, COUNTERS);
    if (got != 1)
    {
        fprintf(stderr, "libfuzzer-sharpfuzz: the .NET target died on this input\n");
        abort();
    }
    if (status != 0)
    {
        fprintf(stderr, "libfuzzer-sharpfuzz: the .NET target threw on this input\n");
        abort();
    }
    return 0;
}
