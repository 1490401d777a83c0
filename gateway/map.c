/*
 * map.c - a small string-keyed hash map with separate chaining, used for
 * the dedupe set, pending journal entries, conversations, rate limits and
 * web chat sessions. Keys are copied; values are borrowed. Not locked:
 * every user holds its own mutex.
 */
#include <stdlib.h>
#include <string.h>

#include "gw.h"

struct gw_map_ent {
	char *key;
	void *val;
	uint64_t hash;
	struct gw_map_ent *next;
};

struct gw_map {
	struct gw_map_ent **b;
	size_t nb, count;
};

static uint64_t map_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

struct gw_map *gw_map_new(void)
{
	struct gw_map *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->nb = 16;
	m->b = calloc(m->nb, sizeof(*m->b));
	if (!m->b) {
		free(m);
		return NULL;
	}
	return m;
}

void gw_map_free(struct gw_map *m, void (*free_fn)(void *))
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nb; i++) {
		struct gw_map_ent *e = m->b[i];
		while (e) {
			struct gw_map_ent *n = e->next;
			if (free_fn)
				free_fn(e->val);
			free(e->key);
			free(e);
			e = n;
		}
	}
	free(m->b);
	free(m);
}

static struct gw_map_ent **map_slot(const struct gw_map *m, const char *key,
				    uint64_t h)
{
	struct gw_map_ent **p = &m->b[h & (m->nb - 1)];
	while (*p && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
		p = &(*p)->next;
	return p;
}

void *gw_map_get(const struct gw_map *m, const char *key)
{
	struct gw_map_ent **p = map_slot(m, key, map_hash(key));
	return *p ? (*p)->val : NULL;
}

static void map_grow(struct gw_map *m)
{
	size_t nb = m->nb * 2;
	struct gw_map_ent **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* keep the longer chains */
	for (size_t i = 0; i < m->nb; i++) {
		struct gw_map_ent *e = m->b[i];
		while (e) {
			struct gw_map_ent *n = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
			e = n;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

enum claw_rc gw_map_put(struct gw_map *m, const char *key, void *val,
			void **old)
{
	uint64_t h = map_hash(key);
	struct gw_map_ent **p = map_slot(m, key, h);
	if (old)
		*old = NULL;
	if (*p) {
		if (old)
			*old = (*p)->val;
		(*p)->val = val;
		return CLAW_OK;
	}
	struct gw_map_ent *e = malloc(sizeof(*e));
	if (!e)
		return CLAW_ERR_NOMEM;
	e->key = strdup(key);
	if (!e->key) {
		free(e);
		return CLAW_ERR_NOMEM;
	}
	e->val = val;
	e->hash = h;
	e->next = NULL;
	*p = e;
	if (++m->count > m->nb)
		map_grow(m);
	return CLAW_OK;
}

void *gw_map_del(struct gw_map *m, const char *key)
{
	struct gw_map_ent **p = map_slot(m, key, map_hash(key));
	struct gw_map_ent *e = *p;
	if (!e)
		return NULL;
	void *v = e->val;
	*p = e->next;
	free(e->key);
	free(e);
	m->count--;
	return v;
}

size_t gw_map_count(const struct gw_map *m)
{
	return m->count;
}

void gw_map_each(struct gw_map *m,
		 bool (*fn)(const char *key, void *val, void *cls), void *cls)
{
	for (size_t i = 0; i < m->nb; i++) {
		struct gw_map_ent **p = &m->b[i];
		while (*p) {
			struct gw_map_ent *e = *p;
			if (fn(e->key, e->val, cls)) {
				*p = e->next;
				free(e->key);
				free(e);
				m->count--;
			} else {
				p = &e->next;
			}
		}
	}
}
