#pragma once
// Byte strings for messages between processes (sbi/parallel/cluster.hpp): numbers in the host's
// byte order (every rank of a job runs the same build on the same kind of machine), strings with
// their length. A reader that runs past the end throws std::runtime_error.
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace sbi::cluster {

class ByteWriter {
 public:
  template <class T>
    requires std::is_trivially_copyable_v<T>
  ByteWriter& put(const T& value) {
    bytes_.append(reinterpret_cast<const char*>(&value), sizeof(T));
    return *this;
  }
  ByteWriter& put_raw(const void* data, std::size_t size) {
    bytes_.append(static_cast<const char*>(data), size);
    return *this;
  }
  ByteWriter& put_string(const std::string& text) {
    put<std::uint64_t>(text.size());
    bytes_ += text;
    return *this;
  }
  // A dense matrix (Eigen): rows, columns, then its entries in storage order.
  template <class Matrix>
  ByteWriter& put_matrix(const Matrix& m) {
    put<std::int64_t>(m.rows());
    put<std::int64_t>(m.cols());
    return put_raw(m.data(), static_cast<std::size_t>(m.size()) * sizeof(typename Matrix::Scalar));
  }
  std::string take() { return std::move(bytes_); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

class ByteReader {
 public:
  explicit ByteReader(const std::string& bytes) : data_(bytes.data()), size_(bytes.size()) {}
  template <class T>
    requires std::is_trivially_copyable_v<T>
  T get() {
    T value;
    get_raw(&value, sizeof(T));
    return value;
  }
  void get_raw(void* out, std::size_t size) {
    need(size);
    std::memcpy(out, data_ + at_, size);
    at_ += size;
  }
  std::string get_string() {
    const auto size = get<std::uint64_t>();
    need(size);
    std::string text(data_ + at_, size);
    at_ += size;
    return text;
  }
  // A matrix written by ByteWriter::put_matrix, read into the same matrix type.
  template <class Matrix>
  Matrix get_matrix() {
    const auto rows = get<std::int64_t>(), cols = get<std::int64_t>();
    if (rows < 0 || cols < 0) throw std::runtime_error("cluster message: a matrix of negative size");
    Matrix m(rows, cols);
    get_raw(m.data(), static_cast<std::size_t>(m.size()) * sizeof(typename Matrix::Scalar));
    return m;
  }
  bool done() const { return at_ == size_; }

 private:
  void need(std::size_t size) const {
    if (size > size_ - at_) throw std::runtime_error("cluster message: truncated (" + std::to_string(size_) + " bytes)");
  }
  const char* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

}  // namespace sbi::cluster
