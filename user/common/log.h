/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The agent's log: one line per event on stderr, with a UTC timestamp, for
 * the container runtime (or journald) to keep. No log file of its own.
 */
#ifndef KANARY_LOG_H
#define KANARY_LOG_H

__attribute__((format(printf, 1, 2))) void kn_log(const char *fmt, ...);

#endif /* KANARY_LOG_H */
