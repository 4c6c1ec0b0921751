/*
 * size — the text form of a number of bytes in weir.yaml and workflow files: "4096", "512B",
 * "64KB", "1MiB", "16KiB", parsed to a byte count and formatted back.
 *
 * Decimal units (KB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB, GiB, TiB) powers of
 * 1024, as the IEC and SI define them. This module is only the text form: which sizes make sense
 * where is the caller's call. Error messages do not carry the file, line or key; the caller
 * prefixes those.
 */
#ifndef WR_SIZE_H
#define WR_SIZE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* The largest size accepted: 1 TiB. Nothing weir reads is meant to come near it. */
#define WR_SIZE_MAX ((uint64_t)1 << 40)

/* A buffer of this size holds any wr_size_format() result. */
#define WR_SIZE_BUFLEN 32

/*
 * Parses a size into *out (bytes) and returns 0.
 *
 * Grammar: decimal digits, then optionally one unit: B, KB, MB, GB, TB, KiB, MiB, GiB or TiB
 * (exactly so spelled). No sign, no fraction, no whitespace ("1MiB" yes, "1 MiB" and "1.5MiB"
 * no): YAML has already trimmed the scalar. "0" is valid; whether zero makes sense is the
 * caller's call. Values over WR_SIZE_MAX are refused.
 *
 * On error returns -1, leaves *out untouched and writes a short lowercase message to err (when
 * err is not NULL and errlen > 0; truncated to fit), e.g. "unknown unit 'mb' in '1mb' (use B,
 * KB, MB, GB, TB, KiB, MiB, GiB or TiB)". The input is quoted, shortened when long and with
 * unprintable bytes shown as '?'.
 */
int wr_size_parse(const char *s, uint64_t *out, char *err, size_t errlen);

/*
 * Reads a size from a json-c value: a non-negative integer is a byte count, a string goes
 * through wr_size_parse. Returns 0 with *out set, or -1 with a message in err (a negative
 * number, another type: "expected a size such as 1MiB, 64KB or 4096, got a list").
 */
int wr_size_get(struct json_object *v, uint64_t *out, char *err, size_t errlen);

/*
 * Formats bytes into buf (always NUL-terminated when buflen > 0) and returns buf: in the largest
 * binary unit that divides it exactly ("1MiB", "16KiB", "3GiB"), else in bytes ("1000B"). The
 * text parses back to the same value. WR_SIZE_BUFLEN bytes always suffice.
 */
const char *wr_size_format(uint64_t bytes, char *buf, size_t buflen);

#endif
