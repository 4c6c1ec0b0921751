/*
 * notify — systemd's notification socket protocol; see notify.h.
 *
 * One socket per message, closed at once: weir sends a handful in its life (ready, each
 * reload, stopping), so keeping one open would buy nothing and leak a descriptor into every
 * state the daemon can be in.
 */
#include "engine/base/notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/strutil.h"

/*
 * Fills *sa from addr ("/path" or "@name") and sets *len to the address length to pass to
 * sendto. An abstract name's length counts exactly (its bytes are not NUL-terminated: the
 * kernel compares all of them). Returns 0, or -1 with a message.
 */
static int parse_address(const char *addr, struct sockaddr_un *sa, socklen_t *len, char *err,
                         size_t errlen)
{
    char q[WR_QUOTE_MAX + 4];
    size_t n = strlen(addr);

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    wr_quote_input(addr, q);
    if (addr[0] == '/') {
        if (n >= sizeof(sa->sun_path)) { /* room for the NUL systemd's reader expects */
            return wr_errf(err, errlen,
                           "NOTIFY_SOCKET '%s': the path is %zu bytes, longer than a Unix "
                           "socket address holds (%zu)",
                           q, n, sizeof(sa->sun_path) - 1);
        }
        memcpy(sa->sun_path, addr, n + 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    if (addr[0] == '@') {
        if (n > sizeof(sa->sun_path)) { /* '@' becomes the leading NUL: n bytes in all */
            return wr_errf(err, errlen,
                           "NOTIFY_SOCKET '%s': the abstract name is %zu bytes, longer than a "
                           "Unix socket address holds (%zu)",
                           q, n - 1, sizeof(sa->sun_path) - 1);
        }
        if (n == 1) {
            return wr_errf(err, errlen, "NOTIFY_SOCKET '@': the abstract name is empty");
        }
        sa->sun_path[0] = '\0';
        memcpy(sa->sun_path + 1, addr + 1, n - 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
        return 0;
    }
    return wr_errf(err, errlen,
                   "NOTIFY_SOCKET '%s': expected an absolute path or an @abstract name", q);
}

int wr_notify_to(const char *addr, const char *state, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    socklen_t salen = 0;
    char q[WR_QUOTE_MAX + 4];

    if (!addr || !addr[0]) {
        return 0;
    }
    size_t n = state ? strlen(state) : 0;
    if (n == 0 || n > WR_NOTIFY_MAX) {
        return wr_errf(err, errlen, "notify: a message is 1 to %d bytes (got %zu)", WR_NOTIFY_MAX,
                       n);
    }
    if (parse_address(addr, &sa, &salen, err, errlen) != 0) {
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return wr_errf(err, errlen, "notify: cannot create a socket: %s", strerror(errno));
    }
    ssize_t sent;
    do {
        /* MSG_DONTWAIT: this runs on the loop thread; a manager that does not read must not
           stop the daemon. MSG_NOSIGNAL: a vanished manager is an error, not a SIGPIPE. */
        sent = sendto(fd, state, n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    } while (sent < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    if (sent < 0) {
        wr_quote_input(addr, q);
        return wr_errf(err, errlen, "NOTIFY_SOCKET '%s': cannot send: %s", q, strerror(saved));
    }
    if ((size_t)sent != n) { /* a datagram goes whole or not at all; be sure anyway */
        wr_quote_input(addr, q);
        return wr_errf(err, errlen, "NOTIFY_SOCKET '%s': sent %zd of %zu bytes", q, sent, n);
    }
    return 0;
}

int wr_notify(const char *state, char *err, size_t errlen)
{
    return wr_notify_to(getenv("NOTIFY_SOCKET"), state, err, errlen);
}

int wr_notify_reloading(const char *extra, char *err, size_t errlen)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return wr_errf(err, errlen, "notify: cannot read the monotonic clock: %s", strerror(errno));
    }
    uint64_t usec = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    char *msg = wr_xasprintf("RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "%s%s", usec, extra ? "\n" : "",
                             extra ? extra : "");
    int rc = wr_notify(msg, err, errlen);
    free(msg);
    return rc;
}
