/// Linux calls that Swift's Glibc module does not export (they need _GNU_SOURCE).
#ifndef MEDSYNTH_PLATFORM_H
#define MEDSYNTH_PLATFORM_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// syncfs(2): flushes the file system holding `descriptor`.
int ms_syncfs(int descriptor);

/// pipe2(2) with O_CLOEXEC: both ends close when the process runs another program.
int ms_pipe_cloexec(int descriptors[2]);

/// Makes SIGINT and SIGTERM set a flag instead of ending the process, so that
/// long work can stop at a safe point. A second signal of either kind ends the
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
