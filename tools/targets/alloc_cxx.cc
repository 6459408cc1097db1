// SPDX-License-Identifier: MIT
/*
 * alloc_cxx.cc - the C++ part of the per-allocator ground-truth targets:
 * operator new/delete in their plain, array, nothrow, sized and aligned
 * forms, called by new/delete expressions or directly, and std::vector
 * growth (std::allocator: ::operator new(n * sizeof(T)) and the sized
 * ::operator delete). Each target links the allocator's library before
 * libstdc++, so these operators are the allocator's own where it defines
 * them (jemalloc, mimalloc, tcmalloc all do in Debian 12).
 *
 * Counting: each successful operator new is one allocation of the size it
 * is passed (new T: sizeof(T); new char[n]: n, no array cookie for a
 * trivially destructible type; aligned new: the size, whatever the
 * alignment); each operator delete of a block we hold is one free of that
 * size. A nothrow new that returns nullptr counts nothing. A vector's
 * allocations are read from its capacity: every change of capacity is one
 * allocation of new_cap * sizeof(T) and, unless the old capacity was 0,
 * one free of old_cap * sizeof(T); destroying it frees cap * sizeof(T).
 *
 * Nothing here throws (a thrown bad_alloc would allocate its exception
 * with malloc, behind the truth's back): failures go through the nothrow
 * forms only.
 */
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "alloc_common.h"

namespace {

struct Blob {		// new Blob: _Znwm(200); delete: _ZdlPvm(p, 200)
	unsigned char data[200];
};

struct alignas(64) Aligned {	// _ZnwmSt11align_val_t(192, 64)
	unsigned char data[192];
};

void vector_growth(struct thread_state *ts)
{
	std::vector<uint32_t> v;
	size_t cap = v.capacity();
	size_t n = ms_range(ts, 1, 300);

	for (size_t k = 0; k < n; k++) {
		v.push_back(static_cast<uint32_t>(k));
		if (v.capacity() != cap) {
			ms_call(ts, C__Znwm);
			ms_count_alloc(ts, v.capacity() * sizeof(uint32_t));
			if (cap) {
				ms_call(ts, C__ZdlPvm);
				ms_count_free(ts, cap * sizeof(uint32_t));
			}
			cap = v.capacity();
		}
	}
	/* shrink_to_fit reallocates to the exact size when they differ. */
	if (ms_rnd(ts) % 2) {
		v.shrink_to_fit();
		if (v.capacity() != cap) {
			ms_call(ts, C__Znwm);
			ms_count_alloc(ts, v.capacity() * sizeof(uint32_t));
			ms_call(ts, C__ZdlPvm);
			ms_count_free(ts, cap * sizeof(uint32_t));
			cap = v.capacity();
		}
	}
	if (cap) {
		ms_call(ts, C__ZdlPvm);
		ms_count_free(ts, cap * sizeof(uint32_t));
	}
	/* v is destroyed here: ::operator delete(data, cap * 4). */
}

} // namespace

extern "C" void cxx_iteration(struct thread_state *ts, unsigned int i)
{
	size_t n;
	void *p;

	/* new T / delete T: the sized operator delete. */
	ms_call(ts, C__Znwm);
	Blob *blob = new Blob;
	ms_settle(ts, ms_got(ts, blob, sizeof(Blob), REL_CXX_DELETE_SIZED, 0));

	/* ::operator new(n) / ::operator delete(p), unsized. */
	n = ms_range(ts, 1, 3000);
	ms_call(ts, C__Znwm);
	p = ::operator new(n);
	ms_settle(ts, ms_got(ts, p, n, REL_CXX_DELETE, 0));

	/* new char[n] / delete[]: no cookie, the unsized array delete. */
	n = ms_range(ts, 1, 5000);
	ms_call(ts, C__Znam);
	char *chars = new char[n];
	ms_settle(ts, ms_got(ts, chars, n, REL_CXX_DELETE_ARRAY, 0));

	/* ::operator new[](n) / the sized ::operator delete[](p, n). */
	n = ms_range(ts, 1, 700);
	ms_call(ts, C__Znam);
	p = ::operator new[](n);
	ms_settle(ts, ms_got(ts, p, n, REL_CXX_DELETE_ARRAY_SIZED, 0));

	/* nothrow forms: a success, and failures that count nothing. */
	n = ms_range(ts, 1, 2000);
	ms_call(ts, C__ZnamRKSt9nothrow_t);
	chars = new (std::nothrow) char[n];
	ms_settle(ts, ms_got(ts, chars, n, REL_CXX_DELETE_ARRAY, 0));

	n = ms_huge_size + ms_range(ts, 0, 4096);
	ms_call(ts, C__ZnwmRKSt9nothrow_t);
	ms_expect_null(ts, ::operator new(n, std::nothrow), n,
		       REL_CXX_DELETE, 0);
	if (i % 2) {
		ms_call(ts, C__ZnamRKSt9nothrow_t);
		ms_expect_null(ts, ::operator new[](n, std::nothrow), n,
			       REL_CXX_DELETE_ARRAY, 0);
	}

	/* Over-aligned new T / delete T: sized and aligned. */
	ms_call(ts, C__ZnwmSt11align_val_t);
	Aligned *al = new Aligned;
	ms_settle(ts, ms_got(ts, al, sizeof(Aligned), REL_CXX_DELETE_ALIGNED,
			     alignof(Aligned)));

	/* std::vector growth through std::allocator. */
	vector_growth(ts);
}

extern "C" void cxx_release(struct thread_state *ts, struct block *b)
{
	switch (b->rel) {
	case REL_CXX_DELETE:
		ms_call(ts, C__ZdlPv);
		::operator delete(b->p);
		break;
	case REL_CXX_DELETE_SIZED:
		ms_call(ts, C__ZdlPvm);
		if (b->size == sizeof(Blob))
			delete static_cast<Blob *>(b->p);
		else
			::operator delete(b->p, b->size);
		break;
	case REL_CXX_DELETE_ARRAY:
		ms_call(ts, C__ZdaPv);
		delete[] static_cast<char *>(b->p);
		break;
	case REL_CXX_DELETE_ARRAY_SIZED:
		ms_call(ts, C__ZdaPvm);
		::operator delete[](b->p, b->size);
		break;
	case REL_CXX_DELETE_ALIGNED:
		ms_call(ts, C__ZdlPvmSt11align_val_t);
		if (b->size == sizeof(Aligned) && b->align == alignof(Aligned))
			delete static_cast<Aligned *>(b->p);
		else
			::operator delete(b->p, b->size,
					  std::align_val_t(b->align));
		break;
	default:
		ms_fatal("cxx_release: not a C++ block");
	}
}
