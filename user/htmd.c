// SPDX-License-Identifier: MIT
/* htmd: parse arguments and configuration, then run the engine on the
 * Linux world. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htm/proto.h"

#include "core/config.h"
#include "engine/engine.h"
#include "sys/log.h"
#include "sys/linux_world.h"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: htmd [OPTIONS]\n"
"  -c, --config FILE        configuration (default %s if it exists)\n"
"  -s, --socket PATH        control socket (default %s)\n"
"  -d, --state-dir DIR      state directory (default %s)\n"
"  -r, --cgroup-root PATH   governed cgroup tree (default <cgroup2 mount>/%s)\n"
"      --observe            decide and log, but write no cgroup knob\n"
"      --accept-broken-journal  start even if the journal's hash chain is\n"
"                           broken: keep the good records, set the rest aside\n"
"      --check-config FILE  validate a configuration file and exit\n"
"  -v, --verbose            debug logging\n"
"  -h, --help\n"
"      --version\n",
		HTM_DEFAULT_CONFIG, HTM_DEFAULT_SOCKET, HTM_DEFAULT_STATE_DIR,
		HTM_DEFAULT_SLICE);
}

/* 0, -ENOENT if the file does not exist, or -EINVAL after printing why. */
static int config_load(struct htm_config *cfg, const char *path)
{
	char err[512], *text = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f = fopen(path, "re");
	int r;

	if (!f) {
		r = -errno;
		if (r != -ENOENT)
			fprintf(stderr, "htmd: %s: %s\n", path, strerror(-r));
		return r;
	}
	n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(text);
		fprintf(stderr, "htmd: %s: cannot read\n", path);
		return -EIO;
	}
	r = htm_config_parse(cfg, text, (size_t)n, err, sizeof(err));
	free(text);
	if (r < 0)
		fprintf(stderr, "htmd: %s: %s\n", path, err);
	return r;
}

int main(int argc, char **argv)
{
	enum { OPT_OBSERVE = 256, OPT_CHECK, OPT_VERSION, OPT_ACCEPT_BROKEN };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "cgroup-root", required_argument, NULL, 'r' },
		{ "observe", no_argument, NULL, OPT_OBSERVE },
		{ "accept-broken-journal", no_argument, NULL, OPT_ACCEPT_BROKEN },
		{ "check-config", required_argument, NULL, OPT_CHECK },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 }
	};
	struct htm_overrides ov = { 0 };
	const char *config = NULL;
	struct htm_engine *e = NULL;
	struct htm_world *w = NULL;
	struct htm_config cfg;
	int c, r;

	htm_log_use_stderr();
	htm_config_defaults(&cfg);
	while ((c = getopt_long(argc, argv, "c:s:d:r:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 's': ov.socket = optarg; break;
		case 'd': ov.state_dir = optarg; break;
		case 'r': ov.cgroup_root = optarg; break;
		case 'v': ov.verbose = true; break;
		case OPT_OBSERVE: ov.observe = true; break;
		case OPT_ACCEPT_BROKEN: ov.accept_broken_journal = true; break;
		case OPT_CHECK:
			r = config_load(&cfg, optarg);
			if (r == 0)
				printf("%s: ok\n", optarg);
			else if (r == -ENOENT)
				fprintf(stderr, "htmd: %s: no such file\n", optarg);
			return r == 0 ? 0 : 1;
		case OPT_VERSION:
			printf("htmd %s\n", HTM_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "htmd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	r = config_load(&cfg, config ? config : HTM_DEFAULT_CONFIG);
	if (r == -ENOENT && !config)
		r = 0;	/* no file: built-in defaults */
	else if (r == 0 && !config)
		config = HTM_DEFAULT_CONFIG;
	else if (r < 0) {
		if (r == -ENOENT)
			fprintf(stderr, "htmd: %s: no such file\n", config);
		return 1;
	}
	/* the command line wins over the file */
	htm_config_override(&cfg, &ov);
	htm_log_set_level(cfg.log_level);
	htm_log_route_libbpf();
	if (geteuid() != 0)
		htm_log(LOG_WARNING, "not running as root: cgroups, BPF and other "
			"users' tasks will likely fail");

	r = htm_linux_world_new(&w);
	if (r == 0)
		r = htm_engine_new(&e, w, &cfg, config, &ov);
	if (r == 0)
		r = htm_engine_start(e);
	if (r == 0) {
		r = htm_linux_world_run(w);
		htm_engine_stop(e, r);
	}
	htm_engine_free(e);
	htm_linux_world_free(w);
	if (r < 0)
		htm_log(LOG_ERR, "exiting: %s", strerror(-r));
	return r < 0 ? 1 : 0;
}
