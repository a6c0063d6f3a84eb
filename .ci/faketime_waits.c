/*
 * Preloaded before libfaketime by .ci/run for the PostgreSQL 15 leg, whose server runs on a shifted clock.
 *
 * libfaketime wraps the blocking waits (epoll_wait, poll, select, nanosleep, ...) to scale their timeouts
 * when a clock rate is set, and while one of them blocks it turns faking off for the thread (DONT_FAKE_TIME
 * in its src/libfaketime.c, still so upstream). A signal handler that runs during the wait therefore reads
 * the real clock. PostgreSQL's SIGALRM handler (timeout.c) does exactly that: with the clock shifted years
 * ahead it finds every timeout years away and re-arms it, so lock_timeout, statement_timeout and
 * deadlock_timeout never fire while a backend waits (a prune_ledger blocked on a lock waits forever).
 *
 * These waits take relative timeouts and .ci/run sets no rate, so libfaketime's wrappers change nothing but
 * that; here they go straight to glibc. Waits with absolute deadlines (clock_nanosleep with TIMER_ABSTIME,
 * sem_timedwait, pthread_cond_timedwait) stay libfaketime's, which translates the deadline.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

/* glibc's own definition of a function, whatever the preload order (never libfaketime's). */
static void *libc_function(const char *name)
{
    static void *libc;
    if (libc == NULL)
        libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    return libc == NULL ? NULL : dlsym(libc, name);
}

#define FORWARD(ret_type, name, params, args)                   \
    ret_type name params                                        \
    {                                                           \
        static ret_type (*real) params;                         \
        if (real == NULL)                                       \
            real = (ret_type (*) params) libc_function(#name);  \
        if (real == NULL)                                       \
        {                                                       \
            errno = ENOSYS;                                     \
            return -1;                                          \
        }                                                       \
        return real args;                                       \
    }

FORWARD(int, epoll_wait, (int epfd, struct epoll_event *events, int maxevents, int timeout),
        (epfd, events, maxevents, timeout))
FORWARD(int, epoll_pwait,
        (int epfd, struct epoll_event *events, int maxevents, int timeout, const sigset_t *sigmask),
        (epfd, events, maxevents, timeout, sigmask))
FORWARD(int, poll, (struct pollfd *fds, nfds_t nfds, int timeout), (fds, nfds, timeout))
FORWARD(int, ppoll,
        (struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *sigmask),
        (fds, nfds, timeout, sigmask))
FORWARD(int, select, (int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds, struct timeval *timeout),
        (nfds, readfds, writefds, exceptfds, timeout))
FORWARD(int, pselect,
        (int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds, const struct timespec *timeout,
         const sigset_t *sigmask),
        (nfds, readfds, writefds, exceptfds, timeout, sigmask))
FORWARD(int, nanosleep, (const struct timespec *req, struct timespec *rem), (req, rem))
FORWARD(int, usleep, (useconds_t usec), (usec))
