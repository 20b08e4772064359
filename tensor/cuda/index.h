// index.h: the CUDA kernels behind tensor/ops/index.h, and the device-side index check that the
// index ops and cross_entropy use. Bounds errors keep the CPU's messages: indices are validated on
// the GPU by a small kernel that records the first bad position (row-major order) with an integer
// atomicMin; the host copies back that one position (and then its value) and the op file throws.
// This costs one 8-byte device-to-host copy per call (a synchronisation), not a copy of the
// indices. Every sum is deterministic and adds in the CPU's order:
//   - index_add and embedding_backward group the positions of each target row (counts, an
//     exclusive scan, and each position's rank among the earlier equal indices), then one thread
//     per output element adds its row's sources in index order: no atomics, bit-identical runs;
//   - scatter_add gives each thread one output line (a position outside `dim`) and walks the
//     index along `dim` in order, as the CPU does.
// The rank step compares each index with the earlier ones, n^2/2 comparisons for n indices
// (2e9 for 64k indices: about a millisecond on an H100); fine for token batches, not for
// millions of indices. Declared in every build, defined only in CUDA builds.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace tensor::cuda {

struct IndexCheck {
  int64_t first_bad = -1;  // row-major position of the first bad index, -1 when all are fine
  int64_t value = 0;       // its value
};
// Checks every element of idx (int64, any layout, on a GPU) against [0, limit), skipping elements
// equal to `skip` when has_skip. When n_kept is given it receives a 0-d int64 device tensor
// holding the number of elements not skipped (no host copy of it is made).
IndexCheck check_indices(const Tensor& idx, int64_t limit, bool has_skip = false, int64_t skip = 0,
                         Tensor* n_kept = nullptr);
// The same check in two halves, so that work using n_kept can be queued on the GPU before the host
// waits for the verdict (the GPU then never idles for the copy back). The queued work must read
// no memory through a bad index.
struct PendingIndexCheck {
  Tensor idx;
  Tensor flags;   // int64 [2] on the device: first bad position, count of kept elements
  Tensor n_kept;  // 0-d view of flags[1]
};
PendingIndexCheck start_index_check(const Tensor& idx, int64_t limit, bool has_skip = false, int64_t skip = 0);
IndexCheck finish_index_check(const PendingIndexCheck& pending);  // waits for the check

// The ops proper; their indices are already checked and dims wrapped. Inputs any layout; any dtype
// with CPU kernels (embedding_backward: float32/float64).
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& idx);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& idx);
Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& idx, const Tensor& src);
Tensor index_add(const Tensor& base, int64_t dim, const Tensor& idx, const Tensor& src);
Tensor embedding(const Tensor& weight, const Tensor& ids);
Tensor embedding_backward(const Tensor& grad, const Tensor& ids, int64_t num_embeddings, int64_t padding_idx);

}  // namespace tensor::cuda
