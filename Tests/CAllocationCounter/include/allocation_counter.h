// Counts heap allocations made by the calling thread, so tests can prove that a hot path
// (an inference, a frame of the pipeline) allocates nothing. Test-only: it interposes malloc.
#ifndef ALLOCATION_COUNTER_H
#define ALLOCATION_COUNTER_H
#include <stdint.h>

// 1 when counting works in this build (0 under sanitizers, which own malloc).
int allocation_counter_available(void);
void allocation_counter_start(void);
// Allocations (malloc, calloc, realloc, aligned allocations) since start, on this thread.
uint64_t allocation_counter_stop(void);
#endif
