#ifndef RUNNERD_CSYSTEMD_SHIM_H
#define RUNNERD_CSYSTEMD_SHIM_H

// The whole C boundary of runnerd: libsystemd's daemon and journal APIs. Only the Systemd module
// imports this. SD_JOURNAL_SUPPRESS_LOCATION keeps the header from redefining sd_journal_send as a
// macro that adds the C caller's location; the Swift side sends CODE_* fields itself.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#endif
