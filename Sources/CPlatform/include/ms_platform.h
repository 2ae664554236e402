/// Linux calls that Swift's Glibc module does not export (they need _GNU_SOURCE).
#ifndef MS_PLATFORM_H
#define MS_PLATFORM_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// syncfs(2): flushes the file system holding `descriptor`.
int ms_syncfs(int descriptor);

/// pipe2(2) with O_CLOEXEC: both ends close when the process runs another program.
int ms_pipe_cloexec(int descriptors[2]);

/// Seconds after a first stop signal during which another one is taken as
/// the same request.
#define MS_STOP_GRACE_SECONDS 2

/// Makes SIGINT and SIGTERM set a flag instead of ending the process, so that
/// long work can stop at a safe point. A second signal within
/// MS_STOP_GRACE_SECONDS is the same request (`timeout` and some terminals
/// send one to the process and one to its group); a later one ends the
/// process at once (the default action), for a user who cannot wait.
void ms_install_stop_handlers(void);

/// The signal number that asked to stop (SIGINT or SIGTERM), or 0.
int ms_stop_requested(void);

/// Forgets a stop request (after it was handled, and in tests).
void ms_clear_stop_request(void);

#ifdef __cplusplus
}
#endif

#endif
