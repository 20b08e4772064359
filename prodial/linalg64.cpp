// linalg64.cpp: Matrix helpers, Householder QR, one-sided Jacobi SVD and the pseudo-inverse.
#include "prodial/linalg64.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "tensor/cpu/gemm.h"
#include "tensor/ops.h"

namespace prodial::linalg64 {
namespace {

std::string dims(const Matrix& a) { return "[" + std::to_string(a.rows) + ", " + std::to_string(a.cols) + "]"; }

// x . y over n elements, four accumulators so the loop pipelines without -ffast-math.
double dot(const double* x, const double* y, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += x[i] * y[i];
    s1 += x[i + 1] * y[i + 1];
    s2 += x[i + 2] * y[i + 2];
    s3 += x[i + 3] * y[i + 3];
  }
  for (; i < n; ++i) s0 += x[i] * y[i];
  return (s0 + s1) + (s2 + s3);
}

// The 2-norm of x[0..n) as a scaled sum of squares, so huge or tiny entries neither overflow nor
// underflow.
double norm(const double* x, int64_t n) {
  double scale = 0, ssq = 1;
  for (int64_t i = 0; i < n; ++i) {
    const double ax = std::fabs(x[i]);
    if (ax == 0) continue;
    if (scale < ax) {
      ssq = 1 + ssq * (scale / ax) * (scale / ax);
      scale = ax;
    } else {
      ssq += (ax / scale) * (ax / scale);
    }
  }
  return scale * std::sqrt(ssq);
}

// (x, y) <- (c x - s y, s x + c y)
void rotate(double* x, double* y, int64_t n, double c, double s) {
  for (int64_t i = 0; i < n; ++i) {
    const double xi = x[i], yi = y[i];
    x[i] = c * xi - s * yi;
    y[i] = s * xi + c * yi;
  }
}

// One-sided Jacobi on the rows of g [n, len]: rotates pairs of rows until every pair is orthogonal
// to relative precision tol, applying the same rotations to the rows of v. Returns the sweeps used.
int jacobi_orthogonalise(Matrix& g, Matrix& v, int max_sweeps = 80) {
  const int64_t n = g.rows, len = g.cols;
  const double tol = std::max<double>(1.0, static_cast<double>(len)) * DBL_EPSILON;
  std::vector<double> norm2(static_cast<size_t>(n));
  for (int sweep = 1; sweep <= max_sweeps; ++sweep) {
    for (int64_t p = 0; p < n; ++p) norm2[p] = dot(g.row(p), g.row(p), len);
    bool rotated = false;
    for (int64_t p = 0; p + 1 < n; ++p) {
      for (int64_t q = p + 1; q < n; ++q) {
        const double a = norm2[p], b = norm2[q];
        if (a == 0.0 || b == 0.0) continue;
        const double c = dot(g.row(p), g.row(q), len);
        if (std::fabs(c) <= tol * std::sqrt(a) * std::sqrt(b)) continue;
        rotated = true;
        // The rotation that zeroes the new inner product: t is the smaller root of
        // t^2 + 2 zeta t - 1 = 0 with zeta = (b - a) / 2c.
        const double zeta = (b - a) / (2.0 * c);
        const double t = (zeta >= 0 ? 1.0 : -1.0) / (std::fabs(zeta) + std::sqrt(1.0 + zeta * zeta));
        const double cs = 1.0 / std::sqrt(1.0 + t * t), sn = cs * t;
        rotate(g.row(p), g.row(q), len, cs, sn);
        rotate(v.row(p), v.row(q), v.cols, cs, sn);
        norm2[p] = a - t * c;
        norm2[q] = b + t * c;
      }
    }
    if (!rotated) return sweep;
  }
  throw std::runtime_error("svd: one-sided Jacobi did not converge in " + std::to_string(max_sweeps) + " sweeps (n " +
                           std::to_string(n) + ")");
}

// Columns of u [m, n] whose singular value is exactly 0 are 0 so far; replaces them by unit vectors
// orthogonal to every other column (Gram–Schmidt, twice, over e_0, e_1, ...), so U is orthonormal.
void complete_zero_columns(Matrix& u, const std::vector<double>& s) {
  const int64_t m = u.rows, n = u.cols;
  std::vector<double> x(static_cast<size_t>(m));
  int64_t next_e = 0;
  for (int64_t j = 0; j < n; ++j) {
    if (s[j] > 0) continue;
    while (next_e < m) {
      std::fill(x.begin(), x.end(), 0.0);
      x[next_e++] = 1.0;
      for (int pass = 0; pass < 2; ++pass)
        for (int64_t k = 0; k < n; ++k) {
          if (k == j) continue;
          double d = 0;
          for (int64_t i = 0; i < m; ++i) d += u(i, k) * x[i];
          for (int64_t i = 0; i < m; ++i) x[i] -= d * u(i, k);
        }
      const double len = norm(x.data(), m);
      if (len > 0.5) {  // e_i had a large part outside the span: keep it
        for (int64_t i = 0; i < m; ++i) u(i, j) = x[i] / len;
        break;
      }
    }
  }
}

// Thin SVD of a tall matrix (m >= n).
SVD svd_tall(const Matrix& a, int* sweeps) {
  const int64_t m = a.rows, n = a.cols;
  SVD out;
  out.U = Matrix(m, n);
  out.V = Matrix(n, n);
  out.S.assign(static_cast<size_t>(n), 0.0);
  if (n == 0) return out;
  const QR qr = householder_qr(a);
  // g's rows are R's columns and vt's rows V's columns: R V = [g_0 ... g_{n-1}] after the rotations.
  Matrix g = transpose(qr.R);
  Matrix vt = Matrix::identity(n);
  const int used = jacobi_orthogonalise(g, vt);
  if (sweeps) *sweeps = used;
  std::vector<double> sigma(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) sigma[j] = std::sqrt(dot(g.row(j), g.row(j), n));
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return sigma[x] > sigma[y]; });
  // U = Q U_r with U_r's column j = g_j / sigma_j; V's column j = vt's row j.
  Matrix ur(n, n);  // U_r, columns in sorted order
  for (int64_t k = 0; k < n; ++k) {
    const int64_t j = order[k];
    out.S[k] = sigma[j];
    for (int64_t i = 0; i < n; ++i) out.V(i, k) = vt(j, i);
    if (sigma[j] > 0)
      for (int64_t i = 0; i < n; ++i) ur(i, k) = g(j, i) / sigma[j];
  }
  out.U = matmul(qr.Q, ur);
  complete_zero_columns(out.U, out.S);
  return out;
}

}  // namespace

Matrix::Matrix(int64_t m, int64_t n, double fill) : rows(m), cols(n) {
  if (m < 0 || n < 0) throw std::invalid_argument("Matrix: negative size [" + std::to_string(m) + ", " + std::to_string(n) + "]");
  data.assign(static_cast<size_t>(m * n), fill);
}

Matrix Matrix::identity(int64_t n) {
  Matrix a(n, n);
  for (int64_t i = 0; i < n; ++i) a(i, i) = 1.0;
  return a;
}

Matrix from_tensor(const tensor::Tensor& t) {
  if (!t.defined() || t.dim() != 2)
    throw std::invalid_argument("linalg64::from_tensor: need a 2-d tensor, got " +
                                (t.defined() ? tensor::shape_str(t.shape()) : std::string("an undefined tensor")));
  tensor::Tensor c = t.to(tensor::DType::Float64).contiguous();
  if (c.device() != tensor::Device::cpu()) c = c.to(tensor::Device::cpu());
  Matrix a(c.size(0), c.size(1));
  const double* p = c.data<double>();
  std::copy(p, p + a.data.size(), a.data.begin());
  return a;
}

tensor::Tensor to_tensor(const Matrix& a) { return tensor::from_vector(a.data, {a.rows, a.cols}); }

Matrix transpose(const Matrix& a) {
  Matrix t(a.cols, a.rows);
  constexpr int64_t B = 32;  // tiles keep both sides in cache
  for (int64_t i0 = 0; i0 < a.rows; i0 += B)
    for (int64_t j0 = 0; j0 < a.cols; j0 += B)
      for (int64_t i = i0; i < std::min(i0 + B, a.rows); ++i)
        for (int64_t j = j0; j < std::min(j0 + B, a.cols); ++j) t(j, i) = a(i, j);
  return t;
}

Matrix matmul(const Matrix& a, const Matrix& b) {
  if (a.cols != b.rows) throw std::invalid_argument("linalg64::matmul: shapes " + dims(a) + " and " + dims(b) + " do not chain");
  Matrix c(a.rows, b.cols);
  if (c.rows && c.cols && a.cols)  // the tensor layer's GEMM (OpenBLAS when built with it)
    tensor::cpu::gemm<double>(false, false, a.rows, b.cols, a.cols, 1.0, a.data.data(), a.cols, b.data.data(), b.cols,
                              0.0, c.data.data(), c.cols);
  return c;
}

double frobenius_norm(const Matrix& a) { return norm(a.data.data(), static_cast<int64_t>(a.data.size())); }

QR householder_qr(const Matrix& a) {
  const int64_t m = a.rows, n = a.cols;
  if (m < n) throw std::invalid_argument("householder_qr: needs rows >= cols, got " + dims(a));
  // Work on the transpose so each column of `a` is a contiguous row.
  Matrix at = transpose(a);
  std::vector<std::vector<double>> reflectors(static_cast<size_t>(n));  // v_k over indices [k, m)
  std::vector<double> vnorm2(static_cast<size_t>(n), 0.0);
  for (int64_t k = 0; k < n; ++k) {
    double* x = at.row(k) + k;
    const int64_t len = m - k;
    const double alpha = norm(x, len);
    std::vector<double>& v = reflectors[k];
    v.assign(x, x + len);
    if (alpha == 0.0) continue;  // zero column: no reflection (H = I)
    // H x = -sign(x0) |x| e_0, with v = x + sign(x0) |x| e_0 (no cancellation)
    const double beta = x[0] >= 0 ? -alpha : alpha;
    v[0] -= beta;
    vnorm2[k] = dot(v.data(), v.data(), len);
    x[0] = beta;
    std::fill(x + 1, x + len, 0.0);
    for (int64_t j = k + 1; j < n; ++j) {
      double* y = at.row(j) + k;
      const double f = 2.0 * dot(v.data(), y, len) / vnorm2[k];
      for (int64_t i = 0; i < len; ++i) y[i] -= f * v[i];
    }
  }
  QR out;
  out.R = Matrix(n, n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) out.R(i, j) = at(j, i);
  // Q's columns: Q e_j = H_0 ... H_{n-1} e_j, built as rows of Q^T applying H_{n-1} first.
  Matrix qt(n, m);
  for (int64_t j = 0; j < n; ++j) {
    double* q = qt.row(j);
    q[j] = 1.0;
    for (int64_t k = std::min(j, n - 1); k >= 0; --k) {  // H_k with k > j leaves e_j's top alone
      if (vnorm2[k] == 0.0) continue;
      const std::vector<double>& v = reflectors[k];
      const int64_t len = m - k;
      const double f = 2.0 * dot(v.data(), q + k, len) / vnorm2[k];
      for (int64_t i = 0; i < len; ++i) q[k + i] -= f * v[i];
    }
  }
  out.Q = transpose(qt);
  return out;
}

SVD svd(const Matrix& a, int* sweeps) {
  if (sweeps) *sweeps = 0;
  if (a.rows >= a.cols) return svd_tall(a, sweeps);
  // a^T = U' S V'^T, so a = V' S U'^T
  SVD t = svd_tall(transpose(a), sweeps);
  SVD out;
  out.U = std::move(t.V);
  out.S = std::move(t.S);
  out.V = std::move(t.U);
  return out;
}

Matrix pinv(const SVD& s, double rcond, int64_t* rank) {
  if (!(rcond >= 0)) throw std::invalid_argument("pinv: rcond must be >= 0, got " + std::to_string(rcond));
  const int64_t m = s.U.rows, n = s.V.rows, k = static_cast<int64_t>(s.S.size());
  const double cutoff = k ? rcond * s.S[0] : 0.0;
  int64_t r = 0;
  while (r < k && s.S[r] > cutoff) ++r;
  if (rank) *rank = r;
  // pinv = V_r diag(1 / S_r) U_r^T: scale V's kept columns, then multiply by U_r^T.
  Matrix vs(n, r), urt(r, m);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < r; ++j) vs(i, j) = s.V(i, j) / s.S[j];
  for (int64_t j = 0; j < r; ++j)
    for (int64_t i = 0; i < m; ++i) urt(j, i) = s.U(i, j);
  return matmul(vs, urt);
}

Matrix pinv(const Matrix& a, double rcond, int64_t* rank) { return pinv(svd(a), rcond, rank); }

}  // namespace prodial::linalg64
