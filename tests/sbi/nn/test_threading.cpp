#include "sbi/nn/threading.hpp"

#include <catch2/catch.hpp>

TEST_CASE("thread setting is clamped and readable", "[nn]") {
  sbi::nn::set_num_threads(0);
  CHECK(sbi::nn::num_threads() == 1);
  sbi::nn::set_num_threads(2);
  // Without OpenMP Eigen always reports one thread; with it, at most the hardware count.
  CHECK(sbi::nn::num_threads() >= 1);
  if (!sbi::nn::parallel_available()) CHECK(sbi::nn::num_threads() == 1);
  sbi::nn::set_num_threads(1);
  CHECK(sbi::nn::num_threads() == 1);
}
