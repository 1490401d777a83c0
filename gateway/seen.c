/*
 * seen.c - the dedupe memory of answered message ids: the last SEEN_CAP
 * ids, kept as 128-bit BLAKE2b hashes in one preallocated ring with an
 * open-addressing index (linear probing, backward-shift deletion). No
 * allocation per id: long-lived small allocations scattered through the
 * heap would keep every page they sit on resident after a burst.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

#define SEEN_SLOTS 65536 /* a power of two, > 3 * GW_SEEN_CAP */
#define EMPTY UINT32_MAX

struct gw_seen {
	uint8_t ring[GW_SEEN_CAP][GW_SEEN_HASH];
	size_t head, len;
	uint32_t slots[SEEN_SLOTS]; /* ring index, or EMPTY */
};

struct gw_seen *gw_seen_new(void)
{
	struct gw_seen *s = malloc(sizeof(*s));
	if (!s)
		return NULL;
	s->head = s->len = 0;
	memset(s->slots, 0xff, sizeof(s->slots));
	return s;
}

void gw_seen_free(struct gw_seen *s)
{
	free(s);
}

void gw_seen_hash(const char *id, uint8_t out[GW_SEEN_HASH])
{
	crypto_generichash(out, GW_SEEN_HASH, (const unsigned char *)id,
			   strlen(id), NULL, 0);
}

static size_t home(const uint8_t *h)
{
	uint32_t v;
	memcpy(&v, h, sizeof(v));
	return v & (SEEN_SLOTS - 1);
}

/* The slot holding h, or the empty slot where it would go. */
static size_t find(const struct gw_seen *s, const uint8_t *h)
{
	size_t i = home(h);
	while (s->slots[i] != EMPTY &&
	       memcmp(s->ring[s->slots[i]], h, GW_SEEN_HASH) != 0)
		i = (i + 1) & (SEEN_SLOTS - 1);
	return i;
}

bool gw_seen_has(const struct gw_seen *s, const uint8_t h[GW_SEEN_HASH])
{
	return s->slots[find(s, h)] != EMPTY;
}

/* Remove the entry at slot i, shifting later probes back. */
static void del_slot(struct gw_seen *s, size_t i)
{
	size_t j = i;
	s->slots[i] = EMPTY;
	for (;;) {
		j = (j + 1) & (SEEN_SLOTS - 1);
		if (s->slots[j] == EMPTY)
			return;
		size_t k = home(s->ring[s->slots[j]]);
		/* move j back to i unless its home lies cyclically in (i, j] */
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			s->slots[i] = s->slots[j];
			s->slots[j] = EMPTY;
			i = j;
		}
	}
}

void gw_seen_add(struct gw_seen *s, const uint8_t h[GW_SEEN_HASH])
{
	if (gw_seen_has(s, h))
		return;
	if (s->len == GW_SEEN_CAP) {
		del_slot(s, find(s, s->ring[s->head]));
		s->head = (s->head + 1) % GW_SEEN_CAP;
		s->len--;
	}
	size_t p = (s->head + s->len) % GW_SEEN_CAP;
	memcpy(s->ring[p], h, GW_SEEN_HASH);
	s->slots[find(s, h)] = (uint32_t)p;
	s->len++;
}

size_t gw_seen_count(const struct gw_seen *s)
{
	return s->len;
}

const uint8_t *gw_seen_at(const struct gw_seen *s, size_t i)
{
	return s->ring[(s->head + i) % GW_SEEN_CAP];
}
