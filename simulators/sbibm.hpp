#pragma once
// All sbibm benchmark tasks (data/sbibm/TASKS.md) in one include: for each task a factory
// make_<task>(options) returning an sbi::Simulator and <task>_prior() returning sbibm's prior.
//
// | task                    | header                       | θ dim | data dim | options struct          |
// |-------------------------|------------------------------|-------|----------|-------------------------|
// | two_moons               | simulators/two_moons.hpp     | 2     | 2        | —                       |
// | slcp                    | simulators/slcp.hpp          | 5     | 8        | —                       |
// | gaussian_linear         | simulators/gaussian.hpp      | 10    | 10       | GaussianLinearOptions   |
// | gaussian_linear_uniform | simulators/gaussian.hpp      | 10    | 10       | GaussianLinearOptions   |
// | gaussian_mixture        | simulators/gaussian.hpp      | 2     | 2        | —                       |
// | bernoulli_glm           | simulators/bernoulli_glm.hpp | 10    | 10 (100) | BernoulliGlmOptions     |
// | sir                     | simulators/sir.hpp           | 2     | 10       | SirOptions              |
// | lotka_volterra          | simulators/lotka_volterra.hpp| 4     | 20       | LotkaVolterraOptions    |
//
// By name, with options from JSON: simulators/registry.hpp.
#include "simulators/bernoulli_glm.hpp"
#include "simulators/gaussian.hpp"
#include "simulators/lotka_volterra.hpp"
#include "simulators/registry.hpp"
#include "simulators/sir.hpp"
#include "simulators/slcp.hpp"
#include "simulators/two_moons.hpp"
