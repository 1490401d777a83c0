/*
 * diff.c - a unified line diff for "clawctl persona edit": what the edit
 * changes, shown before it is saved.
 *
 * Lines are compared whole (with their newline, so a last line without
 * one differs from the same text with one). The common head and tail are
 * skipped; the rest is a longest-common-subsequence table of
 * (n + 1) * (m + 1) counters, bounded by CLI_DIFF_MAX_CELLS: a change
 * larger than that is shown as every old line of the middle removed and
 * every new one added (still a correct diff, only not a minimal one).
 * Hunks carry three lines of context, as diff -u prints them.
 */
#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CONTEXT 3

struct line {
	const char *p;
	size_t len; /* with its newline, when it has one */
};

struct op {
	char t;        /* ' ', '-', '+' */
	size_t ai, bi; /* lines of a and b before this one */
};

/* The lines of text into *out (allocated), their count. */
static size_t split(const char *text, size_t len, struct line **out)
{
	size_t n = 0, i = 0;
	struct line *v;

	for (size_t k = 0; k < len; k++)
		n += text[k] == '\n';
	n += len && text[len - 1] != '\n';
	v = calloc(n ? n : 1, sizeof(*v));
	*out = v;
	if (!v)
		return 0;
	for (size_t k = 0, start = 0; k < len; k++) {
		if (text[k] == '\n' || k + 1 == len) {
			v[i].p = text + start;
			v[i++].len = k + 1 - start;
			start = k + 1;
		}
	}
	return n;
}

static bool same(const struct line *x, const struct line *y)
{
	return x->len == y->len && !memcmp(x->p, y->p, x->len);
}

/* The middle a[0..n) against b[0..m): its operations appended to ops
 * (from *k on), ai/bi offset by a0/b0. */
static int middle(const struct line *a, size_t n, const struct line *b,
		  size_t m, size_t a0, size_t b0, struct op *ops, size_t *k)
{
	uint32_t *t = NULL;
	size_t w = m + 1, i = 0, j = 0;

	if (n && m && (n + 1) <= CLI_DIFF_MAX_CELLS / (m + 1)) {
		t = calloc((n + 1) * w, sizeof(*t));
		if (!t)
			return -1;
		for (size_t x = n; x-- > 0;)
			for (size_t y = m; y-- > 0;)
				t[x * w + y] = same(&a[x], &b[y])
					? t[(x + 1) * w + y + 1] + 1
					: (t[(x + 1) * w + y] > t[x * w + y + 1]
						   ? t[(x + 1) * w + y]
						   : t[x * w + y + 1]);
	}
	while (i < n || j < m) {
		if (t && i < n && j < m && same(&a[i], &b[j])) {
			ops[(*k)++] = (struct op){' ', a0 + i++, b0 + j++};
		} else if (i < n &&
			   (j == m || !t ||
			    t[(i + 1) * w + j] >= t[i * w + j + 1])) {
			ops[(*k)++] = (struct op){'-', a0 + i++, b0 + j};
		} else {
			ops[(*k)++] = (struct op){'+', a0 + i, b0 + j++};
		}
	}
	free(t);
	return 0;
}

static int put_line(struct claw_buf *out, char t, const struct line *l)
{
	bool nl = l->len && l->p[l->len - 1] == '\n';

	return claw_buf_append(out, &t, 1) ||
			claw_buf_append(out, l->p, l->len) ||
			(!nl &&
			 claw_buf_puts(out,
				       "\n\\ No newline at end of "
				       "file\n"))
		? -1
		: 0;
}

/* One hunk: ops[s..e). */
static int hunk(struct claw_buf *out, const struct op *ops, size_t s, size_t e,
		const struct line *a, const struct line *b)
{
	size_t na = 0, nb = 0;

	for (size_t k = s; k < e; k++) {
		na += ops[k].t != '+';
		nb += ops[k].t != '-';
	}
	if (claw_buf_printf(out, "@@ -%zu,%zu +%zu,%zu @@\n",
			    ops[s].ai + (na ? 1 : 0), na,
			    ops[s].bi + (nb ? 1 : 0), nb))
		return -1;
	for (size_t k = s; k < e; k++) {
		const struct line *l =
			ops[k].t == '+' ? &b[ops[k].bi] : &a[ops[k].ai];

		if (put_line(out, ops[k].t, l))
			return -1;
	}
	return 0;
}

static int hunks(struct claw_buf *out, const struct op *ops, size_t nops,
		 const struct line *a, const struct line *b)
{
	size_t k = 0;

	while (k < nops) {
		size_t c = k, last, s, e;

		while (c < nops && ops[c].t == ' ')
			c++;
		if (c == nops)
			break;
		last = c;
		for (size_t x = c + 1; x < nops; x++) {
			if (ops[x].t == ' ')
				continue;
			if (x - last - 1 > 2 * CONTEXT)
				break;
			last = x;
		}
		s = c > k + CONTEXT ? c - CONTEXT : k;
		e = last + 1 + CONTEXT < nops ? last + 1 + CONTEXT : nops;
		if (hunk(out, ops, s, e, a, b))
			return -1;
		k = e;
	}
	return 0;
}

int cli_diff(struct claw_buf *out, const char *a, size_t alen, const char *b,
	     size_t blen, const char *aname, const char *bname, bool *changed)
{
	struct line *la = NULL, *lb = NULL;
	struct op *ops = NULL;
	size_t n = split(a, alen, &la), m = split(b, blen, &lb);
	size_t head = 0, tail = 0, k = 0;
	int r = -1;

	*changed = alen != blen || (alen && memcmp(a, b, alen));
	if (!la || !lb)
		goto out;
	if (!*changed) {
		r = 0;
		goto out;
	}
	while (head < n && head < m && same(&la[head], &lb[head]))
		head++;
	while (tail < n - head && tail < m - head &&
	       same(&la[n - 1 - tail], &lb[m - 1 - tail]))
		tail++;
	ops = calloc(n + m + 1, sizeof(*ops));
	if (!ops)
		goto out;
	for (size_t i = 0; i < head; i++)
		ops[k++] = (struct op){' ', i, i};
	if (middle(la + head, n - head - tail, lb + head, m - head - tail, head,
		   head, ops, &k))
		goto out;
	for (size_t i = tail; i > 0; i--)
		ops[k++] = (struct op){' ', n - i, m - i};
	if (claw_buf_printf(out, "--- %s\n+++ %s\n", aname, bname) ||
	    hunks(out, ops, k, la, lb))
		goto out;
	r = 0;
out:
	free(ops);
	free(la);
	free(lb);
	return r;
}
