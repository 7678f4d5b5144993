// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The agent's main thread: one poll loop over signals, the config
 * directory's inotify events, a debounce timer and the health checker's
 * notifications. Every apply happens here, one at a time; the HTTP and
 * health threads only read.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent.h"
#include "agent_http.h"
#include "apply.h"
#include "config_dir.h"
#include "flows.h"
#include "health.h"
#include "log.h"
#include "pins.h"
#include "state.h"

/*
 * One update of a ConfigMap volume is a burst of events (a new timestamped
 * directory, a symlink made and renamed over ..data, the old directory
 * removed): apply once, when the directory has been quiet this long.
 */
#define DEBOUNCE_MS 200
/* Read the directory again this often even without events (a lost event,
 * an overflowed inotify queue, a directory replaced under the watch), and
 * sweep the records' kn_flows marks (sweep_marks). */
#define RESCAN_S 10

struct agent {
	const struct kn_agent_opts *o;
	const char *pin_dir;
	struct kn_agent_status st;
	struct kn_health *health;
	int sig_fd, ino_fd, watch, debounce_fd, rescan_fd, health_fd;
	uint64_t digest; /* of the last set tried, good or bad */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void arm(int tfd, long ms, long interval_ms)
{
	struct itimerspec it = {
		.it_value = { ms / 1000, (ms % 1000) * 1000000 },
		.it_interval = { interval_ms / 1000,
				 (interval_ms % 1000) * 1000000 },
	};

	timerfd_settime(tfd, 0, &it, NULL);
}

static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void set_result(struct agent *a, bool ok, const char *error)
{
	pthread_mutex_lock(&a->st.lock);
	a->st.last_ok = ok;
	a->st.last_time = now_s();
	snprintf(a->st.last_error, sizeof(a->st.last_error), "%s",
		 ok ? "" : error);
	if (ok) {
		a->st.applied = true;
		a->st.applies_ok++;
	} else {
		a->st.applies_failed++;
	}
	pthread_mutex_unlock(&a->st.lock);
}

/* Hand the accepted config to the checker: it checks what is routed to. */
static void health_follow(struct agent *a)
{
	struct kn_config cfg;
	struct kn_err err;

	if (!a->health)
		return;
	if (kn_state_read_config(a->pin_dir, &cfg, &err)) {
		kn_log("health: cannot read the accepted config: %s", err.msg);
		return;
	}
	kn_health_set_config(a->health, &cfg);
	kn_config_free(&cfg);
}

static uint32_t generation(const char *pin_dir)
{
	struct kanary_cfg cfg = { 0 };
	struct kn_maps m;
	uint32_t zero = 0;

	if (kn_maps_open(pin_dir, &m))
		return 0;
	bpf_map_lookup_elem(m.fd[KN_MAP_CFG], &zero, &cfg);
	kn_maps_close(&m);
	return cfg.generation;
}

/*
 * Apply the directory when it changed since the last try (or always, when
 * forced: start, SIGHUP). A bad set changes nothing in the data path: the
 * last good config keeps serving, and /readyz says why it is not ready.
 */
static void apply_dir(struct agent *a, bool force, const char *why)
{
	uint64_t digest = kn_config_dir_digest(a->o->config_dir);
	struct kn_config set;
	struct kn_err err;

	if (!digest) {
		snprintf(err.msg, sizeof(err.msg), "%s: %s", a->o->config_dir,
			 strerror(errno));
		if (a->digest != 0 || force)
			kn_log("config: cannot read (%s): %s", why, err.msg);
		a->digest = 0;
		set_result(a, false, err.msg);
		return;
	}
	if (digest == a->digest && !force)
		return;
	a->digest = digest;
	if (kn_config_dir_read(a->o->config_dir, &set, &err) ||
	    kn_apply_replace(a->pin_dir, &set, &err)) {
		kn_config_free(&set);
		kn_log("config: not applied (%s), the last good config keeps "
		       "serving: %s",
		       why, err.msg);
		set_result(a, false, err.msg);
		return;
	}
	kn_config_free(&set);
	set_result(a, true, NULL);
	kn_log("config: applied %s (%s), generation %u", a->o->config_dir, why,
	       generation(a->pin_dir));
	health_follow(a);
}

/* The checker ejected or readmitted an endpoint: compile the pools again. */
static void apply_health(struct agent *a)
{
	struct kn_config none = { 0 };
	struct kn_err err;
	struct kn_maps m;

	drain(a->health_fd);
	if (kn_apply_config(a->pin_dir, &none, NULL, NULL, &err)) {
		kn_log("health: pools not rebuilt: %s", err.msg);
		return;
	}
	pthread_mutex_lock(&a->st.lock);
	a->st.health_changes++;
	pthread_mutex_unlock(&a->st.lock);
	kn_log("health: pools rebuilt, generation %u", generation(a->pin_dir));
	if (!kn_maps_open(a->pin_dir, &m)) {
		kn_health_after_apply(a->health, &m);
		kn_maps_close(&m);
	}
}

static int watch_dir(struct agent *a)
{
	/*
	 * The kubelet's swap is a rename onto ..data (IN_MOVED_TO); a plain
	 * edit ends with IN_CLOSE_WRITE, an editor's save with a rename.
	 */
	a->watch = inotify_add_watch(a->ino_fd, a->o->config_dir,
				     IN_CREATE | IN_DELETE | IN_MOVED_TO |
					     IN_MOVED_FROM | IN_CLOSE_WRITE |
					     IN_ATTRIB | IN_DELETE_SELF |
					     IN_MOVE_SELF | IN_ONLYDIR);
	return a->watch < 0 ? -1 : 0;
}

static void on_inotify(struct agent *a)
{
	char buf[8192] __attribute__((aligned(8)));
	bool lost = false;
	ssize_t n;

	while ((n = read(a->ino_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (void *)p;

			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF |
					IN_MOVE_SELF | IN_Q_OVERFLOW))
				lost = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	/* The directory itself went away: watch it again when it is back. */
	if (lost) {
		inotify_rm_watch(a->ino_fd, a->watch);
		if (watch_dir(a))
			kn_log("config: %s is gone; retrying every %d s",
			       a->o->config_dir, RESCAN_S);
	}
	arm(a->debounce_fd, DEBOUNCE_MS, 0);
}

/* 1 to go on, 0 to exit */
static int on_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			kn_log("SIGHUP: reading %s again", a->o->config_dir);
			apply_dir(a, true, "SIGHUP");
			continue;
		}
		kn_log("%s: exiting", strsignal(si.ssi_signo));
		return 0;
	}
	return 1;
}

/*
 * Take back the records' marks of kn_flows entries that are gone
 * (kn_conns_sweep_marks): without it, every overflow and every kn_flows
 * draw leaves a mark for good, and in time every new connection pays two
 * hash lookups more. The agent is the one sweeper.
 */
static void sweep_marks(struct agent *a)
{
	struct kn_maps m;
	struct kn_sweep sw;

	if (kn_maps_open(a->pin_dir, &m))
		return;
	if (kn_conns_sweep_marks(&m, &sw))
		kn_log("conntrack: cannot sweep the records' marks: %s",
		       strerror(errno));
	else {
		pthread_mutex_lock(&a->st.lock);
		a->st.mark_sweeps++;
		a->st.records_marked = sw.marked - sw.cleared;
		pthread_mutex_unlock(&a->st.lock);
	}
	kn_maps_close(&m);
}

static void loop(struct agent *a)
{
	enum { SIG, INO, DEBOUNCE, RESCAN, HEALTH, N };
	struct pollfd p[N] = {
		[SIG] = { a->sig_fd, POLLIN, 0 },
		[INO] = { a->ino_fd, POLLIN, 0 },
		[DEBOUNCE] = { a->debounce_fd, POLLIN, 0 },
		[RESCAN] = { a->rescan_fd, POLLIN, 0 },
		[HEALTH] = { a->health_fd, POLLIN, 0 },
	};

	for (;;) {
		if (poll(p, N, -1) < 0) {
			if (errno == EINTR)
				continue;
			kn_log("poll: %s", strerror(errno));
			return;
		}
		if (p[SIG].revents && !on_signal(a))
			return;
		if (p[INO].revents)
			on_inotify(a);
		if (p[DEBOUNCE].revents) {
			drain(a->debounce_fd);
			apply_dir(a, false, "directory changed");
		}
		if (p[RESCAN].revents) {
			drain(a->rescan_fd);
			if (a->watch < 0 && !watch_dir(a))
				kn_log("config: watching %s again",
				       a->o->config_dir);
			apply_dir(a, false, "periodic check");
			sweep_marks(a);
		}
		if (p[HEALTH].revents)
			apply_health(a);
	}
}

static int open_fds(struct agent *a)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Before any thread starts, so that every thread blocks them. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	signal(SIGPIPE, SIG_IGN);
	a->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	a->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	a->debounce_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	a->rescan_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	a->health_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->sig_fd < 0 || a->ino_fd < 0 || a->debounce_fd < 0 ||
	    a->rescan_fd < 0 || a->health_fd < 0)
		return -1;
	arm(a->rescan_fd, RESCAN_S * 1000, RESCAN_S * 1000);
	return 0;
}

static void close_fds(struct agent *a)
{
	int fds[] = { a->sig_fd, a->ino_fd, a->debounce_fd, a->rescan_fd,
		      a->health_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void log_start(struct agent *a, bool adopting)
{
	char addr[INET_ADDRSTRLEN] = "";

	if (a->o->listen.sin_port)
		inet_ntop(AF_INET, &a->o->listen.sin_addr, addr, sizeof(addr));
	kn_log("agent up: pin dir %s (%s), config %s%s%s%s", a->pin_dir,
	       adopting ? "adopted: flows, counters and config kept" : "new",
	       a->o->config_dir, addr[0] ? ", http " : "", addr,
	       addr[0] ? "" : ", no http endpoint");
	if (addr[0])
		kn_log("http endpoint on %s:%u (/healthz /readyz /metrics)",
		       addr, ntohs(a->o->listen.sin_port));
}

int kn_agent_run(const struct kn_agent_opts *o)
{
	struct agent a = { .o = o, .pin_dir = o->load.pin_dir, .watch = -1 };
	struct kn_agent_http *http = NULL;
	struct kn_load_info old;
	bool adopting;
	int rc = 1;

	a.sig_fd = a.ino_fd = a.debounce_fd = a.rescan_fd = a.health_fd = -1;
	pthread_mutex_init(&a.st.lock, NULL);
	if (open_fds(&a)) {
		kn_log("cannot set up: %s", strerror(errno));
		goto out;
	}
	if (watch_dir(&a)) {
		kn_log("cannot watch the config directory %s: %s",
		       o->config_dir, strerror(errno));
		goto out;
	}
	adopting = !kn_state_read_load(a.pin_dir, &old);
	if (kn_load(&o->load)) {
		kn_log("cannot load the data path (see above)");
		goto out;
	}
	a.st.loaded = true;
	if (!o->no_health) {
		a.health = kn_health_start(a.pin_dir, a.health_fd);
		if (!a.health)
			kn_log("health: checker not started; every endpoint "
			       "stays in");
	}
	if (o->listen.sin_port) {
		http = kn_agent_http_start(&o->listen, a.pin_dir, &a.st,
					   a.health);
		if (!http)
			goto out;
	}
	log_start(&a, adopting);
	apply_dir(&a, true, "start");
	loop(&a);
	rc = 0;
out:
	kn_agent_http_stop(http);
	kn_health_stop(a.health);
	if (o->unload_on_exit && a.st.loaded) {
		kn_log("--unload-on-exit: detaching and removing the pins");
		if (kn_unload(a.pin_dir))
			rc = 1;
	} else if (a.st.loaded) {
		kn_log("the data path stays attached at %s; the next agent "
		       "adopts it ('kanary unload' removes it)",
		       a.pin_dir);
	}
	close_fds(&a);
	return rc;
}

int kn_agent_parse_listen(const char *s, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}
