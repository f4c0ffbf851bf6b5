/* SPDX-License-Identifier: MIT */
/*
 * The public face of htmd: socket, wire limits and the names the protocol
 * uses. Included by htmd and htmctl; fixed-width types only.
 */
#ifndef HTM_PROTO_H
#define HTM_PROTO_H

#define HTM_VERSION		"0.1.0"
#define HTM_PROTO_VERSION	1

#define HTM_DEFAULT_SOCKET	"/run/htm/htmd.sock"
#define HTM_DEFAULT_STATE_DIR	"/var/lib/htm"
#define HTM_DEFAULT_CONFIG	"/etc/htm/htmd.json"
#define HTM_DEFAULT_SLICE	"htm.slice"
#define HTM_DEFAULT_PIN_DIR	"/sys/fs/bpf/htm"
#define HTM_DEFAULT_RULES_DIR	"/etc/htm/rules.d"

/* One request or response is one line; a longer line is refused, not split. */
#define HTM_MAX_LINE		(1u << 20)

/* Error codes carried in {"ok":false,"error":{"code":...,"message":...}}. */
#define HTM_ERR_BAD_REQUEST	"bad_request"
#define HTM_ERR_TOO_LARGE	"too_large"
#define HTM_ERR_UNKNOWN_CMD	"unknown_command"
#define HTM_ERR_NOT_FOUND	"not_found"
#define HTM_ERR_PERMISSION	"permission_denied"
#define HTM_ERR_CONFLICT	"conflict"
#define HTM_ERR_INTERNAL	"internal"

#endif
