#define _GNU_SOURCE
#include "ms_platform.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int ms_syncfs(int descriptor) { return syncfs(descriptor); }

int ms_pipe_cloexec(int descriptors[2]) { return pipe2(descriptors, O_CLOEXEC); }

static volatile sig_atomic_t stop_signal = 0;
/// When the first stop signal arrived (CLOCK_MONOTONIC, seconds).
static volatile time_t first_stop_seconds = 0;

static void request_stop(int signal_number) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (stop_signal == 0) {
        stop_signal = signal_number;
        first_stop_seconds = now.tv_sec;
        return;
    }
    // `timeout` and some terminals deliver one request twice (to the process
    // and to its group): a repeat within the grace period is the same request.
    if (now.tv_sec - first_stop_seconds < MS_STOP_GRACE_SECONDS) return;
    // A later one is a user who cannot wait: the default action ends the process.
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    sigaction(signal_number, &fallback, NULL);
    raise(signal_number);
}

void ms_install_stop_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = request_stop;
    // Interrupted reads and writes resume instead of failing with EINTR.
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    // A parent can start us with these signals blocked (a test runner's
    // spawned processes inherit its mask); a blocked signal would never arrive.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
}

int ms_stop_requested(void) { return stop_signal; }

void ms_clear_stop_request(void) { stop_signal = 0; }
