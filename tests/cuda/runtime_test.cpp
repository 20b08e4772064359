// runtime_test.cpp: the CUDA backend's plumbing: the caching allocator's counters and reuse,
// copies between host and device (every dtype, strided, broadcast, flipped, converted), fill,
// pinned host tensors, checked-call messages, PM_CUDA_SYNC, and the error of an op that mixes
// devices.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "cuda/gpu_test_util.h"
#include "tensor/cuda/copy.h"
#if defined(PM_HAVE_CUDA)
#include "tensor/cuda/cuda_check.h"
#endif

namespace {
using pm_gpu_test::cuda;
using pm_gpu_test::equals_cpu;
using tensor::Device;
using tensor::DType;
using tensor::Tensor;

const DType kAllDtypes[] = {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::UInt8};

// 0, 1, 2, ... (mod 200, so every dtype holds them exactly) in the given dtype and shape.
Tensor counting(const tensor::Shape& shape, DType dt) {
  const int64_t n = tensor::numel_of(shape);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<double>(i % 200);
  return tensor::from_vector(v, {n}).reshape(shape).to(dt);
}

TEST(CudaAllocator, CountsBytesAndReusesCachedBlocks) {
  PM_REQUIRE_GPU();
  tensor::cuda::empty_cache();
  const auto s0 = tensor::cuda::memory_stats();
  const int64_t n = (3 << 20) / 4 + 123;  // a bit over 3 MiB of float32: rounds to 4 MiB
  {
    Tensor a = Tensor::empty({n}, DType::Float32, Device::cuda());
    const auto s1 = tensor::cuda::memory_stats();
    EXPECT_EQ(s1.num_device_mallocs, s0.num_device_mallocs + 1);
    EXPECT_EQ(s1.num_allocs, s0.num_allocs + 1);
    EXPECT_EQ(s1.bytes_in_use, s0.bytes_in_use + (4u << 20));
    EXPECT_GE(s1.peak_bytes_in_use, s1.bytes_in_use);
  }
  const auto s2 = tensor::cuda::memory_stats();
  EXPECT_EQ(s2.bytes_in_use, s0.bytes_in_use);  // freed into the cache
  EXPECT_GE(s2.bytes_reserved, s0.bytes_reserved + (4u << 20));
  {
    Tensor b = Tensor::empty({n}, DType::Float32, Device::cuda());  // same size: from the cache
    const auto s3 = tensor::cuda::memory_stats();
    EXPECT_EQ(s3.num_device_mallocs, s2.num_device_mallocs);
    EXPECT_EQ(s3.num_allocs, s2.num_allocs + 1);
    EXPECT_EQ(s3.bytes_in_use, s0.bytes_in_use + (4u << 20));
  }
  tensor::cuda::reset_peak_memory();
  EXPECT_EQ(tensor::cuda::memory_stats().peak_bytes_in_use, tensor::cuda::memory_stats().bytes_in_use);
  tensor::cuda::empty_cache();
  EXPECT_EQ(tensor::cuda::memory_stats().bytes_reserved, tensor::cuda::memory_stats().bytes_in_use);
}

TEST(CudaCopy, RoundTripsEveryDtype) {
  PM_REQUIRE_GPU();
  for (DType dt : kAllDtypes) {
    SCOPED_TRACE(tensor::dtype_name(dt));
    const Tensor x = counting({3, 5, 7}, dt);
    const Tensor d = cuda(x);
    EXPECT_TRUE(d.device().is_cuda());
    EXPECT_TRUE(d.is_contiguous());
    EXPECT_TRUE(pm_test::tensors_close(d.to(Device::cpu()), x, 0, 0));
    EXPECT_TRUE(equals_cpu(d.clone(), x));  // device -> device
    const Tensor empty = Tensor::empty({0, 3}, dt);
    EXPECT_EQ(cuda(empty).to(Device::cpu()).numel(), 0);
  }
}

TEST(CudaCopy, StridedBroadcastFlippedLayouts) {
  PM_REQUIRE_GPU();
  for (DType dt : kAllDtypes) {
    SCOPED_TRACE(tensor::dtype_name(dt));
    const Tensor x = counting({4, 6, 5}, dt);
    const Tensor dx = cuda(x);
    // device views copied to the host: transposed, stepped slice, flipped (negative strides), select
    EXPECT_TRUE(pm_test::tensors_close(dx.transpose(0, 2).to(Device::cpu()), x.transpose(0, 2).contiguous(), 0, 0));
    EXPECT_TRUE(pm_test::tensors_close(dx.slice(1, 1, 6, 2).to(Device::cpu()), x.slice(1, 1, 6, 2).contiguous(), 0, 0));
    EXPECT_TRUE(equals_cpu(tensor::flip(dx, {0, 2}), tensor::flip(x, {0, 2})));
    EXPECT_TRUE(equals_cpu(dx.select(1, 3).contiguous(), x.select(1, 3).contiguous()));
    // host views copied to the device
    EXPECT_TRUE(equals_cpu(cuda(x.permute({2, 0, 1})), x.permute({2, 0, 1}).contiguous()));
    EXPECT_TRUE(equals_cpu(cuda(x.narrow(2, 1, 3)), x.narrow(2, 1, 3).contiguous()));
    // into strided destinations, from either side
    Tensor dst = tensor::zeros({6, 4}, dt, Device::cuda());
    dst.transpose(0, 1).copy_(x.select(2, 0));  // host -> strided device
    EXPECT_TRUE(equals_cpu(dst, x.select(2, 0).transpose(0, 1).contiguous()));
    Tensor host_dst = tensor::zeros({6, 4}, dt);
    host_dst.transpose(0, 1).copy_(dx.select(2, 0));  // device -> strided host
    EXPECT_TRUE(pm_test::tensors_close(host_dst, x.select(2, 0).transpose(0, 1).contiguous(), 0, 0));
    // broadcast sources
    const Tensor row = counting({1, 5}, dt);
    Tensor bd = Tensor::empty({3, 5}, dt, Device::cuda());
    bd.copy_(row);  // host [1, 5] -> device [3, 5]
    EXPECT_TRUE(equals_cpu(bd, row.expand({3, 5}).contiguous()));
    Tensor bh = Tensor::empty({3, 5}, dt);
    bh.copy_(cuda(row));  // device [1, 5] -> host [3, 5]
    EXPECT_TRUE(pm_test::tensors_close(bh, row.expand({3, 5}).contiguous(), 0, 0));
    Tensor dd = Tensor::empty({2, 3, 5}, dt, Device::cuda());
    dd.copy_(cuda(row).expand({3, 5}));  // device broadcast -> device
    EXPECT_TRUE(equals_cpu(dd, row.expand({2, 3, 5}).contiguous()));
  }
}

TEST(CudaCopy, ConvertsBetweenEveryPairOfDtypes) {
  PM_REQUIRE_GPU();
  for (DType from : kAllDtypes) {
    for (DType to : kAllDtypes) {
      SCOPED_TRACE(std::string(tensor::dtype_name(from)) + " -> " + tensor::dtype_name(to));
      const Tensor x = counting({5, 9}, from);
      const Tensor want = x.to(to);
      EXPECT_TRUE(equals_cpu(cuda(x).to(to), want));                                   // on the device
      EXPECT_TRUE(pm_test::tensors_close(cuda(x).to(to).to(Device::cpu()), want, 0, 0));
      Tensor d = Tensor::empty({5, 9}, to, Device::cuda());
      d.copy_(x);  // host -> device with conversion
      EXPECT_TRUE(equals_cpu(d, want));
      Tensor h = Tensor::empty({9, 5}, to);
      h.transpose(0, 1).copy_(cuda(x));  // device -> strided host with conversion
      EXPECT_TRUE(pm_test::tensors_close(h.transpose(0, 1).contiguous(), want, 0, 0));
      EXPECT_TRUE(equals_cpu(cuda(x).transpose(0, 1).to(to), want.transpose(0, 1).contiguous()));  // strided
    }
  }
}

TEST(CudaCopy, FillsAnyLayout) {
  PM_REQUIRE_GPU();
  for (DType dt : kAllDtypes) {
    SCOPED_TRACE(tensor::dtype_name(dt));
    EXPECT_TRUE(equals_cpu(tensor::full({1001}, 7, dt, Device::cuda()), tensor::full({1001}, 7, dt)));
    EXPECT_TRUE(equals_cpu(tensor::zeros({3, 7}, dt, Device::cuda()), tensor::zeros({3, 7}, dt)));
    Tensor d = tensor::zeros({4, 6}, dt, Device::cuda());
    Tensor h = tensor::zeros({4, 6}, dt);
    d.slice(1, 1, 6, 2).fill_(3);
    h.slice(1, 1, 6, 2).fill_(3);
    EXPECT_TRUE(equals_cpu(d, h));
    d.narrow(0, 1, 2).fill_(5);  // contiguous but not 16-byte aligned
    h.narrow(0, 1, 2).fill_(5);
    EXPECT_TRUE(equals_cpu(d, h));
  }
  Tensor neg_zero = tensor::full({5}, -0.0, DType::Float64, Device::cuda());  // not the memset path
  EXPECT_TRUE(std::signbit(neg_zero.to(Device::cpu()).at({2})));
  EXPECT_EQ(tensor::scalar_tensor(2.5, DType::Float32, Device::cuda()).item<float>(), 2.5f);
}

TEST(CudaCopy, PinnedHostTensors) {
  if (!tensor::cuda::available()) {
    EXPECT_TRUE(pm_test::throws_with([] { tensor::cuda::pinned_empty({4}); }, {"pinned_empty"}));
    GTEST_SKIP() << "no CUDA GPU: only the error was checked";
  }
  Tensor p = tensor::cuda::pinned_empty({64, 33}, DType::Float32);
  EXPECT_TRUE(p.device().is_cpu());
  EXPECT_TRUE(tensor::cuda::is_pinned(p));
  EXPECT_FALSE(tensor::cuda::is_pinned(tensor::zeros({3})));
  const Tensor x = counting({64, 33}, DType::Float32);
  p.copy_(x);
  const Tensor d = cuda(p);
  EXPECT_TRUE(equals_cpu(d, x));
  Tensor back = tensor::cuda::pinned_empty({64, 33}, DType::Float32);
  back.copy_(d);  // device -> pinned
  EXPECT_TRUE(pm_test::tensors_close(back, x, 0, 0));
  const Tensor q = tensor::cuda::pin_memory(x.transpose(0, 1));
  EXPECT_TRUE(tensor::cuda::is_pinned(q));
  EXPECT_TRUE(q.is_contiguous());
  EXPECT_TRUE(pm_test::tensors_close(q, x.transpose(0, 1).contiguous(), 0, 0));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::cuda::pin_memory(d); }, {"pin_memory", "CPU tensor", "cuda:0"}));
}

TEST(CudaErrors, OpMixingDevicesNamesOpAndDevices) {
  PM_REQUIRE_GPU();
  const Tensor a = tensor::ones({2, 3}), b = tensor::ones({2, 3}, DType::Float32, Device::cuda());
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::add(a, b); }, {"add", "cpu", "cuda:0"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::where(cuda(tensor::zeros({3}, DType::UInt8)), a, a); },
                                   {"where", "cuda:0", "cpu"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::unary_backward(tensor::UnaryOp::Exp, b, b, a); },
                                   {"exp", "cuda:0", "cpu"}));
  EXPECT_TRUE(pm_test::throws_with([&] { tensor::softmax_backward(a, b, 0); }, {"softmax_backward", "cpu", "cuda:0"}));
}

#if defined(PM_HAVE_CUDA)
TEST(CudaErrors, CheckedCallNamesFileLineAndCall) {
  PM_REQUIRE_GPU();
  // a failing status handed to the macro directly: no runtime call errs, so compute-sanitizer
  // stays quiet over the suite
  auto failing_call = [] { return cudaErrorInvalidValue; };
  EXPECT_TRUE(pm_test::throws_with([&] { PM_CUDA_CHECK(failing_call()); },
                                   {"runtime_test.cpp:", "failing_call()", "CUDA error", "invalid argument"}));
  EXPECT_NO_THROW(PM_CUDA_CHECK(cudaGetLastError()));
}

TEST(CudaErrors, SyncModeFollowsEnvironment) {
  PM_REQUIRE_GPU();
  const char* v = std::getenv("PM_CUDA_SYNC");
  EXPECT_EQ(tensor::cuda::sync_mode(), v != nullptr && std::strcmp(v, "0") != 0)
      << "run the suite with PM_CUDA_SYNC=1 to check every launch synchronously";
  // with or without sync mode, a launch followed by its check and a synchronize reports nothing
  Tensor x = tensor::randn({1000}, DType::Float32, nullptr, 0, 1, Device::cuda());
  Tensor y = tensor::exp(x);
  EXPECT_NO_THROW(tensor::cuda::synchronize());
}
#endif

}  // namespace
