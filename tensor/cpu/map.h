// map.h: elementwise maps over one to three inputs into an output, on the CPU. Inputs broadcast to
// the output's shape; each operand has its own C++ type (a uint8 mask beside float data). The
// contiguous case is a plain loop the compiler vectorises; the strided case steps by strides.
#pragma once
#include "tensor/cpu/loops.h"

namespace tensor::cpu {

template <typename TO, typename TA, typename F> void map1(const Tensor& out, const Tensor& a, F f) {
  Operands<2> ops;
  ops.base = {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data())};
  ops.strides = {broadcast_byte_strides(out, out.shape()), broadcast_byte_strides(a, out.shape())};
  for_each_row(out.shape(), ops, [&f](std::array<char*, 2> p, const std::array<int64_t, 2>& st, int64_t n) {
    TO* o = reinterpret_cast<TO*>(p[0]);
    const TA* x = reinterpret_cast<const TA*>(p[1]);
    if (st[0] == sizeof(TO) && st[1] == sizeof(TA)) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    } else {
      const int64_t so = st[0] / static_cast<int64_t>(sizeof(TO)), sx = st[1] / static_cast<int64_t>(sizeof(TA));
      for (int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * sx]);
    }
  });
}

template <typename TO, typename TA, typename TB, typename F>
void map2(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  Operands<3> ops;
  ops.base = {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data()), static_cast<char*>(b.raw_data())};
  ops.strides = {broadcast_byte_strides(out, out.shape()), broadcast_byte_strides(a, out.shape()),
                 broadcast_byte_strides(b, out.shape())};
  for_each_row(out.shape(), ops, [&f](std::array<char*, 3> p, const std::array<int64_t, 3>& st, int64_t n) {
    TO* o = reinterpret_cast<TO*>(p[0]);
    const TA* x = reinterpret_cast<const TA*>(p[1]);
    const TB* y = reinterpret_cast<const TB*>(p[2]);
    if (st[0] == sizeof(TO) && st[1] == sizeof(TA) && st[2] == sizeof(TB)) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (st[0] == sizeof(TO) && st[1] == sizeof(TA) && st[2] == 0) {  // row op scalar
      const TB yv = *y;
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else {
      const int64_t so = st[0] / static_cast<int64_t>(sizeof(TO)), sx = st[1] / static_cast<int64_t>(sizeof(TA)),
                    sy = st[2] / static_cast<int64_t>(sizeof(TB));
      for (int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * sx], y[i * sy]);
    }
  });
}

template <typename TO, typename TA, typename TB, typename TC, typename F>
void map3(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  Operands<4> ops;
  ops.base = {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data()), static_cast<char*>(b.raw_data()),
              static_cast<char*>(c.raw_data())};
  ops.strides = {broadcast_byte_strides(out, out.shape()), broadcast_byte_strides(a, out.shape()),
                 broadcast_byte_strides(b, out.shape()), broadcast_byte_strides(c, out.shape())};
  for_each_row(out.shape(), ops, [&f](std::array<char*, 4> p, const std::array<int64_t, 4>& st, int64_t n) {
    TO* o = reinterpret_cast<TO*>(p[0]);
    const TA* x = reinterpret_cast<const TA*>(p[1]);
    const TB* y = reinterpret_cast<const TB*>(p[2]);
    const TC* z = reinterpret_cast<const TC*>(p[3]);
    if (st[0] == sizeof(TO) && st[1] == sizeof(TA) && st[2] == sizeof(TB) && st[3] == sizeof(TC)) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i], z[i]);
    } else {
      const int64_t so = st[0] / static_cast<int64_t>(sizeof(TO)), sx = st[1] / static_cast<int64_t>(sizeof(TA)),
                    sy = st[2] / static_cast<int64_t>(sizeof(TB)), sz = st[3] / static_cast<int64_t>(sizeof(TC));
      for (int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * sx], y[i * sy], z[i * sz]);
    }
  });
}

}  // namespace tensor::cpu
