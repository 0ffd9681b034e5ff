#pragma once
// The library's version, as recorded in saved posteriors, tables and reports.
namespace sbi {

// "0.2.0": the project version from CMake.
const char* version();

}  // namespace sbi
