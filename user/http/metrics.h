/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The data path's counters in the Prometheus text format (version 0.0.4):
 * per VirtualService and subset, per http route, the data path's own
 * counters, the config generation and where it is attached. Written from
 * the pinned maps alone, so that any process may serve it.
 */
#ifndef KANARY_METRICS_H
#define KANARY_METRICS_H

#include <stdio.h>

#define KN_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* 0, or -1 when nothing is loaded at pin_dir (nothing written then). */
int kn_metrics_write_datapath(FILE *f, const char *pin_dir);

struct kn_stat_row;
/*
 * The per-subset families of rows read (kn_stats_read): kanary's own, and
 * Istio's istio_requests_total and istio_request_duration_milliseconds.
 */
void kn_metrics_write_rows(FILE *f, const struct kn_stat_row *rows, int n);

/* s as the inside of a label value: \ " and newline escaped. */
void kn_metrics_label(FILE *f, const char *s);

/* "# HELP name help\n# TYPE name type\n" */
void kn_metrics_family(FILE *f, const char *name, const char *type,
		       const char *help);

#endif /* KANARY_METRICS_H */
