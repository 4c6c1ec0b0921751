/*
 * test_notify — systemd's notification protocol: the datagrams a path or abstract socket
 * receives, nothing without $NOTIFY_SOCKET, addresses that cannot be one, a manager that does
 * not read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/base/notify.h"
#include "engine/base/strutil.h"

/* A bound datagram socket at "/path" or "@abstract" (the protocol's spelling). */
static int listen_at(const char *addr)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t len;
    size_t n = strlen(addr);
    assert_true(n < sizeof(sa.sun_path));
    if (addr[0] == '@') {
        memcpy(sa.sun_path + 1, addr + 1, n - 1); /* sun_path[0] stays NUL */
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        memcpy(sa.sun_path, addr, n + 1);
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (bind(fd, (struct sockaddr *)&sa, len) != 0) {
        fail_msg("cannot bind %s", addr);
    }
    return fd;
}

/* The next datagram on fd (waiting at most 5 s), NUL-terminated into buf; its length. */
static size_t receive(int fd, char *buf, size_t size)
{
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n = recv(fd, buf, size - 1, 0);
    if (n < 0) {
        fail_msg("no datagram arrived");
    }
    buf[n] = '\0';
    return (size_t)n;
}

/* True when nothing is waiting on fd. */
static bool quiet(int fd)
{
    char c;
    return recv(fd, &c, 1, MSG_DONTWAIT) < 0;
}

static uint64_t mono_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void test_unset(void **state)
{
    char err[WR_ERR_MAX] = "";
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(wr_notify("READY=1", err, sizeof(err)), 0);
    assert_int_equal(wr_notify_reloading(NULL, err, sizeof(err)), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    assert_int_equal(wr_notify("READY=1", err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(wr_notify_to(NULL, "READY=1", err, sizeof(err)), 0);
    unsetenv("NOTIFY_SOCKET");
}

static void test_path(void **state)
{
    char dir[] = "/tmp/weir-notify-XXXXXX", buf[WR_NOTIFY_MAX + 16], err[WR_ERR_MAX];
    (void)state;
    assert_non_null(mkdtemp(dir));
    char *path = wr_xasprintf("%s/notify", dir);
    int fd = listen_at(path);
    setenv("NOTIFY_SOCKET", path, 1);

    assert_int_equal(wr_notify("READY=1\nSTATUS=3 workflows\nMAINPID=42", err, sizeof(err)), 0);
    assert_int_equal(receive(fd, buf, sizeof(buf)),
                     strlen("READY=1\nSTATUS=3 workflows\nMAINPID=42"));
    assert_string_equal(buf, "READY=1\nSTATUS=3 workflows\nMAINPID=42");
    assert_true(quiet(fd)); /* one message, one datagram */

    /* RELOADING=1 carries the monotonic time of the call, then what the caller adds */
    uint64_t before = mono_usec();
    assert_int_equal(wr_notify_reloading("STATUS=reloading", err, sizeof(err)), 0);
    uint64_t after = mono_usec();
    receive(fd, buf, sizeof(buf));
    unsigned long long usec = 0;
    int used = 0;
    if (sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu%n", &usec, &used) != 1) {
        fail_msg("not a reload message: '%s'", buf);
    }
    assert_true(usec >= before && usec <= after);
    assert_string_equal(buf + used, "\nSTATUS=reloading");
    assert_int_equal(wr_notify_reloading(NULL, err, sizeof(err)), 0);
    receive(fd, buf, sizeof(buf));
    assert_null(strchr(strchr(buf, '\n') + 1, '\n')); /* two lines, no trailing newline */

    /* the largest message goes whole; one byte more is refused before anything is sent */
    char *big = wr_xmalloc(WR_NOTIFY_MAX + 2);
    memset(big, 'x', WR_NOTIFY_MAX + 1);
    memcpy(big, "STATUS=", 7);
    big[WR_NOTIFY_MAX] = '\0';
    assert_int_equal(wr_notify(big, err, sizeof(err)), 0);
    assert_int_equal(receive(fd, buf, sizeof(buf)), WR_NOTIFY_MAX);
    big[WR_NOTIFY_MAX] = 'x';
    big[WR_NOTIFY_MAX + 1] = '\0';
    assert_int_equal(wr_notify(big, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "1 to 4096 bytes"));
    assert_int_equal(wr_notify("", err, sizeof(err)), -1);
    assert_true(quiet(fd));
    free(big);

    /* a manager that went away: an error naming the socket, and no SIGPIPE */
    close(fd);
    unlink(path);
    assert_int_equal(wr_notify("STOPPING=1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot send"));
    assert_non_null(strstr(err, "weir-notify-"));
    unsetenv("NOTIFY_SOCKET");
    rmdir(dir);
    free(path);
}

static void test_abstract(void **state)
{
    char name[64], buf[256], err[WR_ERR_MAX];
    (void)state;
    snprintf(name, sizeof(name), "@weir-test-notify-%ld", (long)getpid());
    int fd = listen_at(name);
    setenv("NOTIFY_SOCKET", name, 1);
    /* the name's exact length reaches this socket: a trailing NUL would make it another */
    assert_int_equal(wr_notify("READY=1", err, sizeof(err)), 0);
    receive(fd, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1");
    assert_int_equal(wr_notify_to(name, "STOPPING=1", err, sizeof(err)), 0);
    receive(fd, buf, sizeof(buf));
    assert_string_equal(buf, "STOPPING=1");
    /* a longer name is another address */
    char *other = wr_xasprintf("%sx", name);
    assert_int_equal(wr_notify_to(other, "READY=1", err, sizeof(err)), -1);
    assert_true(quiet(fd));
    free(other);
    close(fd);
    unsetenv("NOTIFY_SOCKET");
}

static void test_bad_addresses(void **state)
{
    char err[WR_ERR_MAX], addr[256];
    (void)state;
    /* sun_path holds 108 bytes: a path of 107 and its NUL fit (nobody listens there) */
    memset(addr, 'p', sizeof(addr));
    addr[0] = '/';
    addr[107] = '\0';
    assert_int_equal(wr_notify_to(addr, "READY=1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot send"));
    addr[107] = 'p';
    addr[108] = '\0';
    assert_int_equal(wr_notify_to(addr, "READY=1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "the path is 108 bytes, longer than a Unix socket address"));
    addr[200] = '\0';
    setenv("NOTIFY_SOCKET", addr, 1);
    assert_int_equal(wr_notify("READY=1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer than"));
    assert_true(strlen(err) < 200); /* the address is quoted capped, not whole */
    unsetenv("NOTIFY_SOCKET");

    /* an abstract name of 107 bytes fits beside its leading NUL; 108 does not */
    addr[0] = '@';
    addr[108] = '\0';
    assert_int_equal(wr_notify_to(addr, "READY=1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot send"));
    addr[108] = 'p';
    addr[109] = '\0';
    assert_int_equal(wr_notify_to(addr, "READY=1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "abstract name is 108 bytes"));

    assert_int_equal(wr_notify_to("@", "READY=1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(wr_notify_to("run/notify", "READY=1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "absolute path or an @abstract name"));
    assert_int_equal(wr_notify_to("vsock:2:1234", "READY=1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'vsock:2:1234'"));
}

/* A manager that does not read fills its queue: the next message fails at once, not blocks. */
static void test_never_blocks(void **state)
{
    char name[64], err[WR_ERR_MAX];
    (void)state;
    snprintf(name, sizeof(name), "@weir-test-notify-full-%ld", (long)getpid());
    int fd = listen_at(name);
    alarm(20); /* a blocking send would hang here: let the test die instead */
    int failed_at = -1;
    for (int i = 0; i < 10000 && failed_at < 0; i++) {
        if (wr_notify_to(name, "STATUS=filling the queue", err, sizeof(err)) != 0) {
            failed_at = i;
        }
    }
    alarm(0);
    assert_true(failed_at > 0);
    assert_non_null(strstr(err, "cannot send"));
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unset),        cmocka_unit_test(test_path),
        cmocka_unit_test(test_abstract),     cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_never_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
