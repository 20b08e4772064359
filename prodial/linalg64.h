// linalg64.h: small float64 CPU linear algebra for the T analysis (no LAPACK): a row-major Matrix,
// products, Householder QR, the thin SVD by one-sided Jacobi, and the Moore–Penrose pseudo-inverse.
//
// Dimension letters: m rows, n columns, k = min(m, n).
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace prodial::linalg64 {

// A dense row-major m x n matrix of doubles.
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> data;

  Matrix() = default;
  Matrix(int64_t m, int64_t n, double fill = 0.0);
  static Matrix identity(int64_t n);
  double& operator()(int64_t i, int64_t j) { return data[static_cast<size_t>(i * cols + j)]; }
  double operator()(int64_t i, int64_t j) const { return data[static_cast<size_t>(i * cols + j)]; }
  double* row(int64_t i) { return data.data() + i * cols; }
  const double* row(int64_t i) const { return data.data() + i * cols; }
};

// A 2-d float tensor (any float dtype, any strides) as a Matrix, and back as a float64 tensor.
Matrix from_tensor(const tensor::Tensor& t);
tensor::Tensor to_tensor(const Matrix& a);

Matrix transpose(const Matrix& a);
Matrix matmul(const Matrix& a, const Matrix& b);  // [m, p] @ [p, n]; std::invalid_argument on a shape mismatch
double frobenius_norm(const Matrix& a);

// Householder QR of a tall matrix (m >= n): a = Q R with Q [m, n] having orthonormal columns and R
// [n, n] upper triangular (R's diagonal may be negative).
struct QR {
  Matrix Q, R;
};
QR householder_qr(const Matrix& a);

// Thin SVD a = U diag(S) V^T: U [m, k], S [k] descending and >= 0, V [n, k]. Tall inputs are reduced
// to R of their QR first, and R is orthogonalised by cyclic one-sided Jacobi (Hestenes) rotations;
// wide inputs go through their transpose. Columns for singular values that are exactly 0 are completed
// to an orthonormal set.
// `sweeps` (optional) receives the number of Jacobi sweeps used.
struct SVD {
  Matrix U;
  std::vector<double> S;
  Matrix V;
};
SVD svd(const Matrix& a, int* sweeps = nullptr);

// The Moore–Penrose pseudo-inverse [n, m], keeping singular values > rcond * S_max (numpy.linalg.pinv's
// rcond; all are dropped for a zero matrix). `rank` receives how many were kept.
Matrix pinv(const SVD& s, double rcond, int64_t* rank = nullptr);
Matrix pinv(const Matrix& a, double rcond, int64_t* rank = nullptr);

}  // namespace prodial::linalg64
