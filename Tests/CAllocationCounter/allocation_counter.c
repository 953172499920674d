// Interposes the allocation functions of the test executable and forwards them to glibc's
// own entry points, counting calls on the thread that started counting.
#define _GNU_SOURCE
#include "allocation_counter.h"

#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif

static __thread int counting;
static __thread uint64_t count;

void allocation_counter_start(void) { count = 0; counting = 1; }
uint64_t allocation_counter_stop(void) { counting = 0; return count; }

#if defined(__GLIBC__) && !defined(SANITIZED)
int allocation_counter_available(void) { return 1; }

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t size) { if (counting) ++count; return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { if (counting) ++count; return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { if (counting) ++count; return __libc_realloc(p, size); }
void *aligned_alloc(size_t alignment, size_t size) { if (counting) ++count; return __libc_memalign(alignment, size); }
void *memalign(size_t alignment, size_t size) { if (counting) ++count; return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
  if (counting) ++count;
  void *p = __libc_memalign(alignment, size);
  if (!p) return 12;  // ENOMEM
  *out = p;
  return 0;
}
#else
int allocation_counter_available(void) { return 0; }
#endif
