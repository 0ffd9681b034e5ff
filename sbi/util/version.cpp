#include "sbi/util/version.hpp"

namespace sbi {

const char* version() { return SBI_VERSION_STRING; }

}  // namespace sbi
